"""Packages and services in desired state, end to end through the real binary:

- [[package]] deb = "...": the real dpkg-deb reads the .deb of the ops repo, the real apt-get
  installs it with its dependency from a local file repository the test builds (no network),
  locally and on a test-fleet host through its agent (the .deb travels in the repo bundle);
- [[service]] on this machine, whose PID 1 is not systemd: reported unsupported (exit 3);
- [[service]] against a real systemd, booted as PID 1 of new pid/mount/net/uts/cgroup
  namespaces with a private /run and /etc/systemd/system: enable, start, and one restart after
  the changes restart_on names."""
import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
import unittest

from harness import BIN, FleetTestCase, RepoTestCase, Result, require

APP = "shipshape-e2e-app"
DEP = "shipshape-e2e-dep"


def build_deb(workdir, out, name, version, depends=None):
    d = os.path.join(workdir, f"build-{name}-{version}")
    os.makedirs(os.path.join(d, "DEBIAN"))
    os.makedirs(os.path.join(d, f"usr/share/doc/{name}"))
    control = (f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
               "Maintainer: shipshape tests <tests@localhost>\n"
               "Description: throw-away package for shipshape's package state tests\n")
    if depends:
        control += f"Depends: {depends}\n"
    with open(os.path.join(d, "DEBIAN/control"), "w") as f:
        f.write(control)
    with open(os.path.join(d, f"usr/share/doc/{name}/VERSION"), "w") as f:
        f.write(version + "\n")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", d, out], check=True,
                   capture_output=True)


def installed_version(name):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", name],
                       capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.startswith("install ok installed"):
        return None
    return r.stdout.split()[-1]


def local_apt_repo(test, debs):
    """An apt source holding `debs` (paths), through APT_CONFIG in test.env."""
    repo = os.path.join(test.tmp, "apt")
    os.makedirs(repo)
    for deb in debs:
        shutil.copy(deb, repo)
    scan = subprocess.run(["apt-ftparchive", "packages", "."], cwd=repo, check=True,
                          capture_output=True, text=True)
    with open(os.path.join(repo, "Packages"), "w") as f:
        f.write(scan.stdout)
    state = os.path.join(test.tmp, "apt-state")
    os.makedirs(os.path.join(state, "lists/partial"))
    os.makedirs(os.path.join(state, "archives/partial"))
    with open(os.path.join(test.tmp, "sources.list"), "w") as f:
        f.write(f"deb [trusted=yes] file:{repo} ./\n")
    conf = os.path.join(test.tmp, "apt.conf")
    with open(conf, "w") as f:
        f.write(textwrap.dedent(f"""\
            Dir::Etc::SourceList "{test.tmp}/sources.list";
            Dir::Etc::SourceParts "/nonexistent";
            Dir::State::Lists "{state}/lists";
            Dir::Cache "{state}/cache";
            Dir::Cache::Archives "{state}/archives";
            """))
    test.env["APT_CONFIG"] = conf
    subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True, env=test.env)


class DebPackageTest(RepoTestCase):
    """A .deb of the ops repo installed with apt, its dependency pulled from an apt source."""
    RESOURCE_LOCK = "dpkg"  # installs into this machine's dpkg database (one apt at a time)

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, "needs root to install packages")
        require(self, shutil.which("dpkg-deb") and shutil.which("apt-ftparchive"),
                "needs dpkg-deb and apt-ftparchive (apt-utils)")
        self.assertIsNone(installed_version(APP), "left over from an earlier run")
        self.assertIsNone(installed_version(DEP), "left over from an earlier run")
        for version in ("1.0", "2.0"):
            build_deb(self.tmp, os.path.join(self.repo, f"artifacts/{APP}_{version}_all.deb"),
                      APP, version, depends=DEP)
        dep = os.path.join(self.tmp, f"{DEP}_1.0_all.deb")
        build_deb(self.tmp, dep, DEP, "1.0")
        local_apt_repo(self, [dep])
        self.write("states/app.toml",
                   f'[[package]]\ndeb = "artifacts/{APP}_{{{{version}}}}_all.deb"\n')

    def tearDown(self):
        subprocess.run(["dpkg", "--purge", APP, DEP], capture_output=True)
        super().tearDown()

    def state(self, mode, version, *extra):
        return self.shipshape(*extra, mode, "--state", "states/app.toml", "--set",
                              f"version={version}", timeout=300)

    def test_installs_upgrades_and_then_changes_nothing(self):
        plan = self.state("plan", "1.0")
        self.assertEqual(plan.code, 0, plan)
        self.assertIn(f"+ package {APP}  (1.0, artifacts/{APP}_1.0_all.deb)", plan.out)
        # The package diff against nothing installed: its dependency and its files are added.
        self.assertIn(f"      a: {APP} (not installed under /)\n"
                      f"      b: artifacts/{APP}_1.0_all.deb", plan.out)
        self.assertIn("Depends: + " + DEP, plan.out)
        self.assertIn(f"+ /usr/share/doc/{APP}/VERSION  (file, 4 B, 0644)", plan.out)
        r = self.state("apply", "1.0")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(installed_version(APP), "1.0")
        self.assertEqual(installed_version(DEP), "1.0", "apt resolved the dependency")
        again = self.state("apply", "1.0")
        self.assertEqual(again.code, 0, again)
        self.assertIn("no changes", again.out)

        plan = self.state("plan", "2.0")
        self.assertIn(f"~ package {APP}  (1.0 \u2192 2.0, artifacts/{APP}_2.0_all.deb)", plan.out)
        # The package diff as part of the plan: the installed 1.0 (read from dpkg's database and
        # the files) against the 2.0 .deb: one file's content; --no-diff keeps the summary.
        self.assertIn(f"    package diff: {APP} 1.0 \u2192 2.0 (all)\n"
                      f"      a: {APP} installed under /\n"
                      f"      b: artifacts/{APP}_2.0_all.deb", plan.out)
        self.assertIn("      files         0 added, 0 removed, 1 changed", plan.out)
        self.assertIn(f"/usr/share/doc/{APP}/VERSION", plan.out.split("files         ")[1])
        short = self.shipshape("plan", "--no-diff", "--state", "states/app.toml", "--set",
                               "version=2.0", timeout=300)
        self.assertIn("      files         0 added, 0 removed, 1 changed", short.out)
        self.assertNotIn(f"/usr/share/doc/{APP}/VERSION", short.out)
        doc = self.state("plan", "2.0", "--json").json()
        change = doc["hosts"][0]["changes"][0]
        self.assertEqual(change["details"], ["1.0 \u2192 2.0", f"artifacts/{APP}_2.0_all.deb"])
        r = self.state("apply", "2.0")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(installed_version(APP), "2.0")
        again = self.state("apply", "2.0")
        self.assertIn("no changes", again.out, again)

        # Back to 1.0: a downgrade the state asks for.
        r = self.state("apply", "1.0")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(installed_version(APP), "1.0")

    def test_bad_debs_exit_2_with_positions_and_change_nothing(self):
        cases = [
            ('[[package]]\ndeb = "artifacts/gone_1.0_all.deb"\n',
             'states/bad.toml:2:7: [[package]] deb "artifacts/gone_1.0_all.deb" cannot be read '
             '(No such file or directory); it is relative to the ops repo'),
            (f'[[package]]\nname = "nginx"\ndeb = "artifacts/{APP}_1.0_all.deb"\n',
             f'states/bad.toml:2:8: [[package]] \'name\' "nginx" does not match the package in '
             f'artifacts/{APP}_1.0_all.deb ("{APP}"); leave \'name\' out or fix it'),
            (f'[[package]]\ndeb = "artifacts/{APP}_1.0_all.deb"\nversion = "1.0"\n',
             "states/bad.toml:3:11: [[package]] takes 'deb' or 'version', not both (the version "
             "is the .deb's own)"),
            ('[[package]]\ndeb = "states/bad.deb"\n',
             'states/bad.toml:2:7: [[package]] deb "states/bad.deb" is not a Debian package: '
             "dpkg-deb: error: 'states/bad.deb' is not a Debian format archive"),
        ]
        self.write("states/bad.deb", "not an archive\n")
        for text, message in cases:
            self.write("states/bad.toml", text)
            r = self.shipshape("apply", "--state", "states/bad.toml")
            self.assertEqual(r.code, 2, r)
            self.assertIn(message, r.err)
            self.assertIsNone(installed_version(APP))


class DebOnFleetHostTest(FleetTestCase):
    """The fleet path: the .deb travels in the ops repo bundle and the host's agent installs it
    from its copy. The test fleet's hosts share this machine's file system (all but /root and
    /srv), so its dpkg database too."""
    RESOURCE_LOCK = "dpkg"  # installs into this machine's dpkg database (one apt at a time)

    fleet_size = 1

    def setUp(self):
        super().setUp()
        require(self, shutil.which("dpkg-deb") and shutil.which("apt-ftparchive"),
                "needs dpkg-deb and apt-ftparchive (apt-utils)")
        self.assertIsNone(installed_version(APP), "left over from an earlier run")
        build_deb(self.tmp, os.path.join(self.repo, f"artifacts/{APP}_1.0_all.deb"), APP, "1.0")
        name = self.fleet.hosts[0]["name"]
        self.write("inventory.toml", self.fleet.inventory_toml(
            env="prod", groups={"web": {"hosts": [name], "roles": ["app"]}}))
        self.write("shipshape.toml", 'name = "deb-fleet"\n[roles]\napp = ["states/app.toml"]\n')
        self.write("states/app.toml", f'[[package]]\ndeb = "artifacts/{APP}_1.0_all.deb"\n')
        self.name = name

    def tearDown(self):
        subprocess.run(["dpkg", "--purge", APP], capture_output=True)
        super().tearDown()

    def ss(self, *args, timeout=300):
        r = subprocess.run(self.fleet.cmd([BIN, *args]), cwd=self.repo, capture_output=True,
                           text=True, timeout=timeout, env=self.env, stdin=subprocess.DEVNULL)
        return Result(r)

    def test_the_agent_installs_the_deb_from_its_copy_of_the_repo(self):
        plan = self.ss("plan", self.name)
        self.assertEqual(plan.code, 0, plan)
        self.assertIn(f"+ package {APP}  (1.0, artifacts/{APP}_1.0_all.deb)", plan.out)
        # The host's agent prints its plan, the package diff against that host included.
        self.assertIn(f"      a: {APP} (not installed under /)", plan.out)
        r = self.ss("apply", self.name)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(installed_version(APP), "1.0")
        again = self.ss("apply", self.name)
        self.assertEqual(again.code, 0, again)
        self.assertIn("no changes", again.out)


class ServiceWithoutSystemdTest(RepoTestCase):
    """This machine's PID 1 is not systemd (a container): services are unsupported, exit 3."""

    def test_services_are_reported_unsupported(self):
        with open("/proc/1/comm") as f:
            init = f.read().strip()
        require(self, init != "systemd", "PID 1 is systemd here: nothing unsupported to show")
        self.write("states/svc.toml", textwrap.dedent(f"""\
            [[file]]
            path = "{self.tmp}/etc/booking.conf"
            content = "port = 8080\\n"

            [[service]]
            name = "booking.service"
            enabled = true
            running = true
            restart_on = ["file {self.tmp}/etc/booking.conf"]
            """))
        plan = self.shipshape("plan", "--state", "states/svc.toml")
        self.assertEqual(plan.code, 3, plan)
        self.assertIn(f'! service booking.service  unsupported: this host\'s init (PID 1) is '
                      f'"{init}", not systemd: services are managed through systemd only',
                      plan.out)
        doc = self.shipshape("--json", "plan", "--state", "states/svc.toml").json()
        svc = doc["hosts"][0]["changes"][-1]
        self.assertTrue(svc["unsupported"])
        self.assertEqual(doc["exit_code"], 3)
        # Apply makes the other changes, reports the service, and exits 3.
        r = self.shipshape("apply", "--state", "states/svc.toml")
        self.assertEqual(r.code, 3, r)
        self.assertTrue(os.path.exists(f"{self.tmp}/etc/booking.conf"))
        self.assertIn("failed: service booking.service", r.err)


# Runs as `sh boot.sh TESTDIR` in the new namespaces. systemd must not touch this machine: its
# /run, /tmp and /etc/systemd/system are private tmpfs (the test's directory is bound back into
# /tmp), and every unit of sysinit/basic that would act on shared state is masked (tmpfiles would
# empty the real /var/tmp, sysusers edit /etc/passwd, udev trigger real devices, sysctl set
# kernel-wide values, journald write /var/log/journal). The test's unit has
# DefaultDependencies=no, so starting it pulls in none of them.
MASKED = ("sysinit.target", "basic.target", "local-fs.target", "swap.target", "sockets.target",
          "timers.target", "paths.target", "tmp.mount", "systemd-tmpfiles-setup.service",
          "systemd-tmpfiles-setup-dev.service", "systemd-tmpfiles-clean.service",
          "systemd-tmpfiles-clean.timer", "systemd-sysusers.service", "systemd-udevd.service",
          "systemd-udev-trigger.service", "systemd-sysctl.service", "systemd-journald.service",
          "systemd-journald.socket", "systemd-journald-dev-log.socket",
          "systemd-journal-flush.service", "systemd-modules-load.service",
          "systemd-random-seed.service", "systemd-update-utmp.service",
          "systemd-machine-id-commit.service", "systemd-remount-fs.service")
BOOT = """\
set -e
test_dir="$1"
mount -t tmpfs tmpfs /run
mkdir -p /run/shipshape-e2e-hold
mount --bind "$test_dir" /run/shipshape-e2e-hold
mount -t tmpfs tmpfs /tmp
mkdir -p "$test_dir"
mount --bind /run/shipshape-e2e-hold "$test_dir"
mount -t tmpfs tmpfs /etc/systemd/system
for unit in """ + " ".join(MASKED) + """; do
    ln -s /dev/null "/etc/systemd/system/$unit"
done
mkdir -p /run/systemd/system
printf '[Unit]\\nDescription=shipshape e2e idle target\\nDefaultDependencies=no\\n' \\
    > /run/systemd/system/shipshape-e2e-idle.target
exec env container=shipshape-e2e /lib/systemd/systemd --system --unit=shipshape-e2e-idle.target
"""


class RealSystemd:
    """systemd as PID 1 of new namespaces: a private /run and /etc/systemd/system (tmpfs), its
    own network and hostname; the rest of the file system is this machine's."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None
        self.pid = None

    def up(self):
        script = os.path.join(self.workdir, "boot.sh")
        with open(script, "w") as f:
            f.write(BOOT)
        with open(os.path.join(self.workdir, "systemd.log"), "w") as log:
            self.proc = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount", "--mount-proc", "--net", "--uts",
                 "--cgroup", "--propagation", "private", "sh", script, self.workdir],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.pid is None:
                self.pid = self._child()
            if self.pid is not None:
                r = subprocess.run(self.cmd(["systemctl", "is-system-running"]),
                                   capture_output=True, text=True)
                if r.stdout.strip() in ("running", "degraded"):
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.down()
        with open(os.path.join(self.workdir, "systemd.log")) as f:
            raise RuntimeError("systemd did not come up: " + f.read()[-2000:])

    def _child(self):
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                kids = f.read().split()
        except OSError:
            return None
        if not kids:
            return None
        try:
            with open(f"/proc/{kids[0]}/comm") as f:
                return int(kids[0]) if f.read().strip() == "systemd" else None
        except OSError:
            return None

    def cmd(self, argv):
        return ["nsenter", "-t", str(self.pid), "-m", "-p", "-n", "-u", "-C", *argv]

    def down(self):
        if self.pid:
            try:
                os.kill(self.pid, 9)  # PID 1 of its namespace: everything in it dies with it
            except ProcessLookupError:
                pass
        if self.proc:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class ServiceWithRealSystemdTest(RepoTestCase):
    """enable, start, and restart_on against a real systemd (see RealSystemd)."""

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, "needs root for namespaces")
        require(self, os.path.exists("/lib/systemd/systemd") and shutil.which("nsenter"),
                "needs systemd (the package) and nsenter (util-linux)")
        self.systemd = None
        # The machine's /tmp must come out untouched: a file there is checked at the end.
        fd, self.sentinel = tempfile.mkstemp(prefix="shipshape-e2e-sentinel-", dir="/tmp")
        os.close(fd)
        try:
            self.systemd = RealSystemd(self.tmp).up()
        except RuntimeError as e:
            require(self, False, str(e))

    def tearDown(self):
        if self.systemd:
            self.systemd.down()
        sentinel_kept = os.path.exists(self.sentinel)
        if sentinel_kept:
            os.unlink(self.sentinel)
        super().tearDown()
        self.assertTrue(sentinel_kept, "the namespace's systemd emptied this machine's /tmp")

    def ss(self, *args):
        # nsenter starts in the namespace's working directory: name the repo.
        r = subprocess.run(self.systemd.cmd([BIN, "-C", self.repo, *args]), cwd=self.repo, capture_output=True,
                           text=True, timeout=120, env=self.env, stdin=subprocess.DEVNULL)
        return Result(r)

    def systemctl(self, *args):
        r = subprocess.run(self.systemd.cmd(["systemctl", *args]), capture_output=True, text=True)
        return r.stdout.strip()

    def starts(self):
        try:
            with open(os.path.join(self.tmp, "starts")) as f:
                return f.read().count("started")
        except FileNotFoundError:
            return 0

    def write_state(self, conf):
        self.write("states/svc.toml", textwrap.dedent(f"""\
            [[file]]
            path = "/etc/systemd/system/shipshape-e2e.service"
            content = \"\"\"
            [Unit]
            DefaultDependencies=no
            [Service]
            ExecStart=/bin/sh -c 'echo started >> {self.tmp}/starts; exec sleep infinity'
            [Install]
            WantedBy=shipshape-e2e-idle.target
            \"\"\"

            [[file]]
            path = "{self.tmp}/etc/demo.conf"
            content = "{conf}\\n"

            [[file]]
            path = "{self.tmp}/etc/other.conf"
            content = "{conf}\\n"

            [[service]]
            name = "shipshape-e2e.service"
            enabled = true
            running = true
            restart_on = ["file {self.tmp}/etc/demo.conf", "file {self.tmp}/etc/other.conf"]
            """))

    def test_enables_starts_and_restarts_once_after_its_changes(self):
        self.write_state("port = 1")
        plan = self.ss("plan", "--state", "states/svc.toml")
        self.assertEqual(plan.code, 0, plan)
        self.assertIn("> service shipshape-e2e.service  (daemon-reload: "
                      "/etc/systemd/system/shipshape-e2e.service changes)", plan.out)
        self.assertIn("~ service shipshape-e2e.service  (enable, unit not loaded yet)", plan.out)
        self.assertIn("~ service shipshape-e2e.service  (start (now inactive)", plan.out)
        r = self.ss("apply", "--state", "states/svc.toml")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.systemctl("is-enabled", "shipshape-e2e.service"), "enabled")
        self.assertEqual(self.systemctl("is-active", "shipshape-e2e.service"), "active")
        self.assertEqual(self.starts(), 1)
        # A second apply changes nothing and restarts nothing.
        again = self.ss("apply", "--state", "states/svc.toml")
        self.assertEqual(again.code, 0, again)
        self.assertIn("no changes", again.out)
        self.assertEqual(self.starts(), 1)
        # Both files it restarts on change: one restart, after them.
        self.write_state("port = 2")
        plan = self.ss("plan", "--state", "states/svc.toml")
        self.assertIn(f"> service shipshape-e2e.service  (restart: file {self.tmp}/etc/demo.conf, "
                      f"file {self.tmp}/etc/other.conf changes)", plan.out)
        r = self.ss("apply", "--state", "states/svc.toml")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.starts(), 2)
        self.assertEqual(self.systemctl("is-active", "shipshape-e2e.service"), "active")
        # Stopped and disabled on request.
        self.write("states/svc.toml", textwrap.dedent("""\
            [[service]]
            name = "shipshape-e2e.service"
            enabled = false
            running = false
            """))
        r = self.ss("apply", "--state", "states/svc.toml")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.systemctl("is-enabled", "shipshape-e2e.service"), "disabled")
        self.assertEqual(self.systemctl("is-active", "shipshape-e2e.service"), "inactive")
        # Nothing but the test's unit ran: no tmpfiles, sysusers or journald on shared state.
        active = self.systemctl("list-units", "--state=active", "--no-legend", "--plain",
                                "--type=service")
        self.assertEqual(active, "", active)


if __name__ == "__main__":
    unittest.main()
