#!/usr/bin/env python3
"""A throw-away PostgreSQL server for tests, from Debian's packages (postgresql-15): initdb and
pg_ctl in a temporary directory, listening only on a Unix socket in that directory (no TCP),
stopped and removed afterwards. Never a global service, never pg_ctlcluster.

PostgreSQL refuses to run as root, and the tests run as root: the server then runs as the
unprivileged user `nobody` (through runuser), and its directory belongs to that user.

One implementation for every test: e2e tests import it (PgServer), the C++ store tests run it
(src/store/testing/postgres_server.cpp):

    pgserver.py start DIR [OWNER_PID]   # DIR: a new directory; prints the server's URI
                                        # (database postgres); with OWNER_PID, the server is
                                        # also stopped (and DIR removed) once that process is
                                        # gone, so a test that crashes leaks no server
    pgserver.py createdb DIR NAME   # prints the URI of a new, empty database NAME
    pgserver.py stop DIR     # stops it and removes DIR

`start` exits 77 with the reason on stderr when this machine has no PostgreSQL server
(the tests then skip, or fail under SHIPSHAPE_REQUIRE_ALL=1)."""
import glob
import os
import time
import pwd
import shutil
import subprocess
import sys
import urllib.parse

UNSUPPORTED = 77
SUPERUSER = "shipshape"


class PgUnavailable(Exception):
    """This machine cannot run a test PostgreSQL (the message says why)."""


def bindir():
    """The directory of initdb and pg_ctl (Debian keeps them out of PATH), or None."""
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and os.path.exists(os.path.join(out.stdout.strip(), "initdb")):
            return out.stdout.strip()
    except FileNotFoundError:
        pass
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def uri(directory, database="postgres"):
    """libpq URI of `database` on the server in `directory` (its socket lives there)."""
    host = urllib.parse.quote(os.path.abspath(directory), safe="")
    return f"postgresql://{SUPERUSER}@{host}/{database}"


class PgServer:
    """A server in `directory` (created; must not exist yet, or be empty)."""

    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        self.data = os.path.join(self.directory, "data")
        self.bin = bindir()

    def _as_owner(self, argv):
        # PostgreSQL refuses root; as anyone else it runs as that user.
        if os.geteuid() == 0:
            return ["runuser", "-u", "nobody", "--"] + argv
        return argv

    def _run(self, argv, what):
        out = subprocess.run(self._as_owner(argv), capture_output=True, text=True,
                             cwd=self.directory)
        if out.returncode != 0:
            raise RuntimeError(f"{what} failed ({out.returncode}): {out.stdout}{out.stderr}")
        return out.stdout

    def start(self):
        if self.bin is None:
            raise PgUnavailable("no PostgreSQL server (initdb) installed: Debian package "
                                "postgresql (scripts/install-deps.sh test)")
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            raise PgUnavailable("PostgreSQL refuses root and 'runuser' (util-linux) is missing")
        os.makedirs(self.directory, exist_ok=True)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.directory, nobody.pw_uid, nobody.pw_gid)
        os.chmod(self.directory, 0o700)
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", SUPERUSER,
                   "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
        # fsync off: a test server's data is thrown away, and syncing would only slow the tests.
        options = (f"-k {self.directory} -c listen_addresses='' -c fsync=off "
                   f"-c max_connections=50")
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-o", options,
                   "-l", os.path.join(self.directory, "server.log"), "-w", "-t", "60", "start"],
                  "pg_ctl start")
        return self

    def createdb(self, name):
        self._run([os.path.join(self.bin, "createdb"), "-h", self.directory, "-U", SUPERUSER,
                   name], "createdb " + name)
        return uri(self.directory, name)

    def stop(self):
        if self.bin is not None and os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(self._as_owner([os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                                           "-m", "immediate", "-w", "stop"]),
                           capture_output=True, cwd="/")
        shutil.rmtree(self.directory, ignore_errors=True)

    def watch(self, owner_pid):
        """Starts a detached watcher that stops this server once `owner_pid` has exited."""
        ready_r, ready_w = os.pipe()
        if os.fork() != 0:
            # Return once the watcher has left our process group and output: whoever runs us
            # may then end the group and read our stdout to its end.
            os.close(ready_w)
            os.read(ready_r, 1)
            os.close(ready_r)
            return
        os.close(ready_r)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.write(ready_w, b"x")
        os.close(ready_w)
        # Polling, as a process that is not our child cannot be waited for.
        while os.path.exists(self.data):
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                self.stop()
                break
            except PermissionError:
                pass
            time.sleep(1)
        os._exit(0)

    @property
    def uri(self):
        return uri(self.directory)


def start_for_tests(prefix):
    """One private server for a test class: (server, None), or (None, why not) when this machine
    cannot start one. The server is watched: it stops even if the test process dies."""
    import tempfile
    directory = tempfile.mkdtemp(prefix=prefix)
    try:
        server = PgServer(directory).start()
        server.watch(os.getpid())
        return server, None
    except PgUnavailable as e:
        shutil.rmtree(directory, ignore_errors=True)
        return None, str(e)


def main(argv):
    if len(argv) < 2 or argv[0] not in ("start", "stop", "createdb"):
        print(__doc__, file=sys.stderr)
        return 2
    server = PgServer(argv[1])
    try:
        if argv[0] == "start":
            print(server.start().uri, flush=True)
            if len(argv) > 2:
                server.watch(int(argv[2]))
        elif argv[0] == "createdb":
            print(server.createdb(argv[2]))
        else:
            server.stop()
    except PgUnavailable as e:
        print(f"pgserver: {e}", file=sys.stderr)
        return UNSUPPORTED
    except RuntimeError as e:
        print(f"pgserver: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
