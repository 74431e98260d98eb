"""A test fleet: N fake remote hosts, each a network namespace running Debian's real sshd,
reachable only from a "controller" network namespace. Everything it makes (namespaces, veths,
a bridge, sshd processes, a work directory) lives inside those namespaces or that directory and
is removed by down(); nothing is added to the root network namespace.

    with Fleet(3) as fleet:
        fleet.ssh(1, "hostname -I")                    # from the controller namespace
        fleet.run(["ssh", "-F", fleet.ssh_config, fleet.hosts[0]["address"], "true"])

Layout (<id> is 4 random hex digits, so parallel test processes do not collide):
  controller netns ssf<id>c: lo, bridge br0 10.77.0.1/16
  host i netns ssf<id>h<i>: lo, eth0 10.77.<(i-1)//250>.<(i-1)%250+2>/16, whose veth peer vh<i>
      is a port of br0; sshd runs in its own mount namespace with private tmpfs over /root and
      /srv (the rest of the filesystem, binaries included, is the controller's).
MAC addresses are fixed and the controller has permanent neighbour entries for every host, so
no ARP is needed and a cut host (eth0 down) makes connections hang rather than fail fast.

Command line (for benchmarks and manual work):
    python3 fleet.py up N DIR     # brings a fleet up, writes and prints DIR/fleet.json, leaves it running
    python3 fleet.py down DIR     # tears down what DIR/fleet.json describes
Exits 3 when the machine cannot run a fleet (not root, no sshd/ip/unshare)."""
import atexit
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CTL_ADDRESS = "10.77.0.1"
PREFIX_LEN = 16
BRIDGE_MAC = "02:77:00:00:00:01"
MAX_HOSTS = 1000
READY_TIMEOUT = 90.0  # generous: a loaded 2-core machine starts 10 sshds slowly
NETNS_DIR = "/run/netns"
# The tmpfs mounts that give each host its own home and /srv hide anything under them.
PRIVATE_DIRS = ("/root", "/srv")


class FleetUnsupported(Exception):
    """The machine cannot run a fleet (no root, a missing tool); tests skip on it."""


class FleetError(RuntimeError):
    """Bringing the fleet up (or restarting a host) failed."""


def host_address(i):
    return f"10.77.{(i - 1) // 250}.{(i - 1) % 250 + 2}"


def host_mac(i):
    return f"02:77:01:00:{i >> 8 & 0xff:02x}:{i & 0xff:02x}"


def _tool(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin")
    return path


# Fleets that are up in this process: torn down at exit and on SIGTERM.
_live = []
_live_lock = threading.Lock()
_sigterm_installed = False


def _teardown_all():
    with _live_lock:
        fleets = list(_live)
    for f in fleets:
        try:
            f.down()
        except Exception as e:  # keep tearing down the others
            print(f"fleet: teardown of {f.ctl_netns} failed: {e}", file=sys.stderr)


atexit.register(_teardown_all)


def _install_sigterm():
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    prev = signal.getsignal(signal.SIGTERM)
    if prev == signal.SIG_IGN:
        return

    def on_sigterm(signum, frame):
        _teardown_all()
        if callable(prev):
            prev(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    _sigterm_installed = True


def _netns_inode(name):
    try:
        st = os.stat(os.path.join(NETNS_DIR, name))
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def pids_in_netns(names):
    """{name: [pid, ...]} for the named network namespaces, from one scan of /proc."""
    wanted = {}
    for n in names:
        ino = _netns_inode(n)
        if ino is not None:
            wanted[ino] = n
    found = {n: [] for n in names}
    if not wanted:
        return found
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        n = wanted.get((st.st_dev, st.st_ino))
        if n is not None:
            found[n].append(int(entry))
    return found


def kill_netns_processes(names, timeout=30.0):
    """SIGKILLs every process in the named network namespaces until none is left."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [p for ps in pids_in_netns(names).values() for p in ps]
        if not pids:
            return
        if time.monotonic() > deadline:
            raise FleetError(f"processes {pids} survive SIGKILL in {', '.join(names)}")
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def _delete_netns(ip, names):
    existing = [n for n in names if os.path.exists(os.path.join(NETNS_DIR, n))]
    if existing:
        subprocess.run([ip, "-force", "-batch", "-"], input="".join(f"netns del {n}\n" for n in existing),
                       text=True, capture_output=True)


# Waits in the controller namespace until hosts accept connections on port 22.
_PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fleet_probe.py")

# Runs as `sh -c SCRIPT sshd config` in the host's own mount namespace.
_SSHD_SCRIPT = ('mount -t tmpfs -o mode=0700 fleet-root /root'
                ' && mount -t tmpfs -o mode=0755 fleet-srv /srv'
                ' && exec "$0" -D -e -f "$1"')


class Fleet:
    def __init__(self, n, workdir=None):
        if not 1 <= n <= MAX_HOSTS:
            raise ValueError(f"a fleet has 1 to {MAX_HOSTS} hosts, not {n}")
        self.n = n
        self._given_workdir = workdir
        self.workdir = None
        self._created_workdir = False
        self.id = None
        self.ctl_netns = None
        self.hosts = []
        self.ssh_config = None
        self.pids = {}        # host index -> sshd pid
        self._procs = {}      # host index -> Popen (only in the process that started it)
        self._state = "new"
        self._ip = _tool("ip")

    # --- life cycle -------------------------------------------------------------------------

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()
        return False

    def up(self):
        if self._state != "new":
            raise FleetError("a Fleet is brought up once")
        self._check_supported()
        self._state = "up"
        with _live_lock:
            _live.append(self)
        _install_sigterm()
        try:
            self._make_workdir()
            self._make_network()
            self._write_files()
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
            for h in self.hosts:
                self._start_sshd(h["index"])
            self._wait_ready([h["index"] for h in self.hosts])
        except BaseException:
            self.down()
            raise
        return self

    def down(self):
        """Kills every process in the fleet's namespaces, deletes them and (when the fixture
        made it) the work directory. Idempotent."""
        if self._state in ("new", "down"):
            self._state = "down"
            return
        self._state = "down"
        try:
            names = self._netns_names()
            if names:
                kill_netns_processes(names)
            for p in self._procs.values():
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
            self._procs.clear()
            if names:
                _delete_netns(self._ip, names)
            if self._created_workdir and self.workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            with _live_lock:
                if self in _live:
                    _live.remove(self)

    def detach(self):
        """Leaves the fleet running when this process exits (no teardown at exit/SIGTERM)."""
        with _live_lock:
            if self in _live:
                _live.remove(self)

    def _check_supported(self):
        if os.geteuid() != 0:
            raise FleetUnsupported("a test fleet needs root (network namespaces, mounts)")
        for tool in ("ip", "unshare", "ssh", "ssh-keygen"):
            if not _tool(tool):
                raise FleetUnsupported(f"a test fleet needs '{tool}', not found")
        if not os.access("/usr/sbin/sshd", os.X_OK):
            raise FleetUnsupported("a test fleet needs /usr/sbin/sshd (openssh-server)")
        self._ip = _tool("ip")

    def _netns_names(self):
        if not self.ctl_netns:
            return []
        return [self.ctl_netns] + [h["netns"] for h in self.hosts]

    # --- setup ------------------------------------------------------------------------------

    def _make_workdir(self):
        if self._given_workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="shipshape-fleet-")
            self._created_workdir = True
        else:
            self.workdir = os.path.abspath(self._given_workdir)
            os.makedirs(self.workdir, exist_ok=True)
        real = os.path.realpath(self.workdir)
        for d in PRIVATE_DIRS:
            if real == d or real.startswith(d + "/"):
                raise FleetError(f"the work directory {real} is under {d}, which every host "
                                 f"hides under its own tmpfs; choose another (e.g. under /tmp)")
        self.ssh_config = os.path.join(self.workdir, "ssh_config")

    def _ip_run(self, args, stdin_text=None, what=None):
        r = subprocess.run([self._ip, *args], input=stdin_text, text=True, capture_output=True)
        if r.returncode != 0:
            raise FleetError(f"{what or ' '.join(args)} failed: {r.stderr.strip()}")
        return r

    def _make_network(self):
        # Reserve a unique id by creating the controller namespace (fails if it exists).
        for _ in range(50):
            fid = secrets.token_hex(2)
            name = f"ssf{fid}c"
            if os.path.exists(os.path.join(NETNS_DIR, name)):
                continue
            r = subprocess.run([self._ip, "netns", "add", name], text=True, capture_output=True)
            if r.returncode == 0:
                self.id, self.ctl_netns = fid, name
                break
            if "Operation not permitted" in r.stderr:
                raise FleetUnsupported(f"cannot create network namespaces: {r.stderr.strip()}")
            if "File exists" not in r.stderr:
                raise FleetError(f"ip netns add {name} failed: {r.stderr.strip()}")
        else:
            raise FleetError("no free fleet id after 50 tries")
        width = max(2, len(str(self.n)))
        self.hosts = [{"name": f"h{i:0{width}d}", "address": host_address(i),
                       "netns": f"ssf{self.id}h{i}", "index": i} for i in range(1, self.n + 1)]
        # Host namespaces: one ip process.
        self._ip_run(["-batch", "-"], "".join(f"netns add {h['netns']}\n" for h in self.hosts),
                     "creating the host namespaces")
        # Controller side: bridge, veth pairs (peer moved into each host), neighbour entries.
        ctl = ["link set lo up",
               f"link add br0 address {BRIDGE_MAC} type bridge",
               f"addr add {CTL_ADDRESS}/{PREFIX_LEN} dev br0",
               "link set br0 up"]
        for h in self.hosts:
            i = h["index"]
            ctl += [f"link add vh{i} type veth peer name eth0 address {host_mac(i)} netns {h['netns']}",
                    f"link set vh{i} master br0 up",
                    f"neigh replace {h['address']} lladdr {host_mac(i)} dev br0 nud permanent"]
        self._ip_run(["-n", self.ctl_netns, "-batch", "-"], "\n".join(ctl) + "\n",
                     "setting up the controller namespace")
        # Host side: one ip process per namespace, all at once.
        procs = []
        for h in self.hosts:
            cmds = ["link set lo up",
                    f"addr add {h['address']}/{PREFIX_LEN} dev eth0",
                    "link set eth0 up",
                    f"neigh replace {CTL_ADDRESS} lladdr {BRIDGE_MAC} dev eth0 nud permanent"]
            p = subprocess.Popen([self._ip, "-n", h["netns"], "-batch", "-"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            procs.append((h, p, "\n".join(cmds) + "\n"))
        errors = []
        for h, p, text in procs:
            _, err = p.communicate(text)
            if p.returncode != 0:
                errors.append(f"{h['name']} ({h['netns']}): {err.strip()}")
        if errors:
            raise FleetError("setting up host namespaces failed: " + "; ".join(errors))

    def _path(self, name):
        return os.path.join(self.workdir, name)

    def _write_files(self):
        keys = ("host_key", "client_key")
        for k in keys:
            for f in (k, k + ".pub"):
                if os.path.exists(self._path(f)):
                    os.unlink(self._path(f))
        gens = [subprocess.Popen(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-C", f"fleet-{k}",
                                  "-f", self._path(k)], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for k in keys]
        for g in gens:
            out, _ = g.communicate()
            if g.returncode != 0:
                raise FleetError(f"ssh-keygen failed: {out.strip()}")

        def pub(k):
            with open(self._path(k + ".pub")) as f:
                return f.read().split()

        host_type, host_b64 = pub("host_key")[:2]
        client = " ".join(pub("client_key")[:2])
        self._write("authorized_keys", client + "\n", 0o600)
        self._write("known_hosts", "".join(f"{h['address']} {host_type} {host_b64}\n"
                                           for h in self.hosts))
        self._write("ssh_config", "\n".join([
            "Host *",
            "    User root",
            f"    IdentityFile {self._path('client_key')}",
            "    IdentitiesOnly yes",
            f"    UserKnownHostsFile {self._path('known_hosts')}",
            "    StrictHostKeyChecking yes",
            "    GlobalKnownHostsFile /dev/null",
            "    BatchMode yes",
            "    ConnectTimeout 30",
            "    LogLevel ERROR",
            ""]))
        for h in self.hosts:
            i = h["index"]
            self._write(f"sshd_config_{i}", "\n".join([
                f"ListenAddress {h['address']}:22",
                f"HostKey {self._path('host_key')}",
                f"PidFile {self._path(f'sshd_{i}.pid')}",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                f"AuthorizedKeysFile {self._path('authorized_keys')}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "MaxSessions 200",
                "MaxStartups 500",
                "LogLevel ERROR",
                "Subsystem sftp internal-sftp",
                "UseDNS no",
                ""]))

    def _write(self, name, text, mode=0o644):
        path = self._path(name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def _host(self, i):
        """Host by 1-based index or by name ("h01")."""
        if isinstance(i, str):
            for h in self.hosts:
                if h["name"] == i:
                    return h
            raise KeyError(f"no host named {i}")
        if not 1 <= i <= len(self.hosts):
            raise IndexError(f"host index {i} is not in 1..{len(self.hosts)}")
        return self.hosts[i - 1]

    def _start_sshd(self, i):
        h = self._host(i)
        i = h["index"]
        with open(self._path(f"sshd_{i}.log"), "ab") as log:
            p = subprocess.Popen(
                [self._ip, "netns", "exec", h["netns"], _tool("unshare"), "--mount",
                 "--propagation", "private", "sh", "-c", _SSHD_SCRIPT, "/usr/sbin/sshd",
                 self._path(f"sshd_config_{i}")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        self._procs[i] = p
        self.pids[i] = p.pid  # ip netns exec, unshare and sh exec, so this is sshd's pid

    def log(self, i):
        """Host i's sshd stderr so far."""
        try:
            with open(self._path(f"sshd_{self._host(i)['index']}.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def _wait_ready(self, indices, timeout=READY_TIMEOUT):
        by_addr = {self._host(i)["address"]: self._host(i) for i in indices}
        probe = subprocess.Popen(self.cmd([sys.executable, _PROBE, str(timeout), *by_addr]),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            while probe.poll() is None:
                for i in indices:
                    p = self._procs.get(self._host(i)["index"])
                    if p is not None and p.poll() is not None:
                        h = self._host(i)
                        raise FleetError(f"sshd of {h['name']} ({h['address']}, netns {h['netns']}) "
                                         f"exited with status {p.returncode}:\n{self.log(i)}")
                time.sleep(0.02)
            out, err = probe.communicate()
        finally:
            if probe.poll() is None:
                probe.kill()
                probe.communicate()
        if probe.returncode != 0:
            missing = [by_addr[a] for a in out.split() if a in by_addr]
            if not missing:
                raise FleetError(f"readiness probe failed (status {probe.returncode}): {err.strip()}")
            h = missing[0]
            raise FleetError(f"sshd of {h['name']} ({h['address']}, netns {h['netns']}) did not "
                             f"accept connections within {timeout:g} s"
                             + (f" ({len(missing) - 1} more hosts neither)" if len(missing) > 1 else "")
                             + f"; its log:\n{self.log(h['index'])}")

    # --- use --------------------------------------------------------------------------------

    def cmd(self, args):
        """args wrapped to run in the controller namespace."""
        return [self._ip or "ip", "netns", "exec", self.ctl_netns, *args]

    def run(self, args, **kw):
        return subprocess.run(self.cmd(args), **kw)

    def ssh(self, i, command, options=(), timeout=60):
        """Runs `command` on host i (index or name) with the system ssh from the controller
        namespace; `options` go before the address (e.g. ["-o", "ControlMaster=auto"])."""
        h = self._host(i)
        return subprocess.run(self.cmd(["ssh", "-F", self.ssh_config, *options, h["address"], command]),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)

    def kill_host(self, i):
        """SIGKILLs every process in host i's namespace: connections to it are then refused."""
        h = self._host(i)
        kill_netns_processes([h["netns"]])
        p = self._procs.pop(h["index"], None)
        if p is not None:
            p.wait()
        self.pids.pop(h["index"], None)

    def cut_host(self, i):
        """Sets host i's eth0 down: connections to it hang until they time out."""
        h = self._host(i)
        self._ip_run(["-n", h["netns"], "link", "set", "eth0", "down"])

    def uncut_host(self, i):
        """Undoes cut_host."""
        h = self._host(i)
        self._ip_run(["-n", h["netns"], "-batch", "-"],
                     f"link set eth0 up\nneigh replace {CTL_ADDRESS} lladdr {BRIDGE_MAC} dev eth0 nud permanent\n")

    def restart_host(self, i):
        """Kills host i and starts its sshd again, with a fresh /root and /srv."""
        h = self._host(i)
        self.kill_host(h["index"])
        self._start_sshd(h["index"])
        self._wait_ready([h["index"]])

    def inventory_toml(self, env="prod", groups=None, ssh_extra=""):
        """Text of an inventory.toml listing every host in environment `env`; `groups` maps a
        group name to its host names (or to {"hosts": [...], "roles": [...]}); `ssh_extra` is
        added to the [ssh] table."""
        q = json.dumps  # a JSON string is a valid TOML basic string
        lines = ["[ssh]", f"config = {q(self.ssh_config)}"]
        if ssh_extra:
            lines.append(ssh_extra.rstrip("\n"))
        lines += ["", f"[env.{env}]",
                  "hosts = [" + ", ".join(q(h["name"]) for h in self.hosts) + "]"]
        for h in self.hosts:
            lines += ["", f"[host.{h['name']}]", f"address = {q(h['address'])}", 'user = "root"',
                      f'tags = {{ rack = {q("r" + str((h["index"] - 1) // 5 + 1))} }}']
        for name, spec in (groups or {}).items():
            if isinstance(spec, dict):
                members, roles = spec.get("hosts", []), spec.get("roles")
            else:
                members, roles = spec, None
            lines += ["", f"[group.{name}]", "hosts = [" + ", ".join(q(m) for m in members) + "]"]
            if roles is not None:
                lines.append("roles = [" + ", ".join(q(r) for r in roles) + "]")
        return "\n".join(lines) + "\n"

    # --- description (for the command line) -------------------------------------------------

    def describe(self):
        return {"id": self.id, "workdir": self.workdir, "ctl_netns": self.ctl_netns,
                "ctl_address": CTL_ADDRESS, "ssh_config": self.ssh_config,
                "hosts": [dict(h, pid=self.pids.get(h["index"])) for h in self.hosts]}

    @classmethod
    def from_description(cls, d):
        """A Fleet for tearing down (or using) one brought up by another process."""
        f = cls(max(1, len(d["hosts"])), workdir=d["workdir"])
        f.workdir, f.id, f.ctl_netns, f.ssh_config = d["workdir"], d["id"], d["ctl_netns"], d["ssh_config"]
        f.hosts = [{k: h[k] for k in ("name", "address", "netns", "index")} for h in d["hosts"]]
        f.pids = {h["index"]: h.get("pid") for h in d["hosts"]}
        f._state = "up"
        return f


def main(argv):
    usage = "usage: fleet.py up N DIR | fleet.py down DIR"
    if len(argv) == 3 and argv[0] == "up" and argv[1].isdigit():
        fleet = Fleet(int(argv[1]), workdir=argv[2])
        try:
            t0 = time.monotonic()
            fleet.up()
            elapsed = time.monotonic() - t0
        except FleetUnsupported as e:
            print(f"fleet: unsupported here: {e}", file=sys.stderr)
            return 3
        except (FleetError, ValueError) as e:
            print(f"fleet: {e}", file=sys.stderr)
            return 1
        fleet.detach()
        desc = fleet.describe()
        text = json.dumps(desc, indent=2) + "\n"
        with open(os.path.join(fleet.workdir, "fleet.json"), "w") as f:
            f.write(text)
        sys.stdout.write(text)
        print(f"fleet: {len(fleet.hosts)} hosts up in {elapsed:.2f} s", file=sys.stderr)
        return 0
    if len(argv) == 2 and argv[0] == "down":
        if os.geteuid() != 0 or not _tool("ip"):
            print("fleet: unsupported here: tearing a fleet down needs root and ip", file=sys.stderr)
            return 3
        path = os.path.join(argv[1], "fleet.json")
        try:
            with open(path) as f:
                desc = json.load(f)
        except FileNotFoundError:
            print(f"fleet: no {path}: nothing to tear down", file=sys.stderr)
            return 1
        Fleet.from_description(desc).down()
        os.unlink(path)
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
