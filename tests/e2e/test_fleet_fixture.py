"""The test fleet fixture (fleet.py) itself: real sshd in network namespaces, reachable from the
controller namespace only, private /root per host, kill/cut/restart, and a teardown that leaves
no namespace or process behind, also when bringing the fleet up fails."""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest

from fleet import Fleet, FleetError, FleetUnsupported
from harness import pid_alive, require

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def netns_list():
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return {line.split()[0] for line in r.stdout.splitlines() if line.strip()}


def processes_mentioning(text):
    """Live processes whose command line contains text."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and int(entry) != os.getpid() and pid_alive(int(entry)):
            found.append((int(entry), cmdline.replace("\0", " ")))
    return found


class FleetFixtureTest(unittest.TestCase):
    fleet = None
    unsupported = None

    @classmethod
    def setUpClass(cls):
        fleet = Fleet(3)
        try:
            fleet.up()
        except FleetUnsupported as e:
            cls.unsupported = str(e)
            return
        cls.fleet = fleet
        cls.addClassCleanup(fleet.down)

    def setUp(self):
        require(self, self.unsupported is None, f"no test fleet: {self.unsupported}")
        self.f = self.fleet

    def assert_ssh_ok(self, i, command="true"):
        r = self.f.ssh(i, command)
        self.assertEqual(r.returncode, 0, f"ssh to host {i}: {r.stderr}")
        return r.stdout

    def test_each_host_has_its_own_address(self):
        self.assertEqual([h["name"] for h in self.f.hosts], ["h01", "h02", "h03"])
        self.assertEqual([h["address"] for h in self.f.hosts], ["10.77.0.2", "10.77.0.3", "10.77.0.4"])
        for h in self.f.hosts:
            out = self.assert_ssh_ok(h["index"], "hostname -I; ip -4 -o addr show dev eth0")
            first, addr_line = out.splitlines()[0], out.splitlines()[1]
            self.assertEqual(first.split(), [h["address"]])
            self.assertIn(f"inet {h['address']}/16", addr_line)
        # By name too; and the hosts are not reachable from the root namespace (no route there).
        self.assertIn("10.77.0.3", self.assert_ssh_ok("h02", "hostname -I"))
        self.assertNotIn("10.77.", subprocess.run(["ip", "-4", "addr"], capture_output=True,
                                                  text=True).stdout)

    def test_root_and_srv_are_private_to_each_host(self):
        marker = f"fleet-marker-{self.f.id}"
        self.assert_ssh_ok(1, f"echo one > /root/{marker} && echo one > /srv/{marker}")
        self.assertEqual(self.assert_ssh_ok(1, f"cat /root/{marker} /srv/{marker}"), "one\none\n")
        r = self.f.ssh(2, f"ls /root/{marker} || ls /srv/{marker}")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertFalse(os.path.exists(f"/root/{marker}"))
        self.assertFalse(os.path.exists(f"/srv/{marker}"))
        # The rest of the filesystem is shared: a host sees the fleet's work directory.
        self.assertIn("ssh_config", self.assert_ssh_ok(2, f"ls {self.f.workdir}"))

    def test_kill_host_refuses_connections_and_restart_gives_a_fresh_host(self):
        self.assert_ssh_ok(2, "touch /root/before-kill")
        self.f.kill_host(2)
        r = self.f.ssh(2, "true")
        self.assertEqual(r.returncode, 255)
        self.assertIn("Connection refused", r.stderr)
        self.assert_ssh_ok(1)
        self.assert_ssh_ok(3)
        self.f.restart_host(2)
        self.assertIn("gone", self.assert_ssh_ok(2, "test -e /root/before-kill || echo gone"))

    def test_cut_host_makes_connections_time_out(self):
        self.f.cut_host(3)
        try:
            t0 = time.monotonic()
            r = self.f.ssh(3, "true", options=["-o", "ConnectTimeout=1"])
            self.assertEqual(r.returncode, 255)
            self.assertIn("timed out", r.stderr)
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)
            self.assert_ssh_ok(1)
        finally:
            self.f.uncut_host(3)
        self.assert_ssh_ok(3)

    def test_control_master_through_the_namespace(self):
        path = os.path.join(self.f.workdir, "cm-%C")
        opts = ["-o", "ControlMaster=auto", "-o", f"ControlPath={path}", "-o", "ControlPersist=10"]
        r = self.f.ssh(1, "echo via-master", options=opts, timeout=120)
        self.assertEqual((r.returncode, r.stdout), (0, "via-master\n"), r.stderr)
        sockets = glob.glob(os.path.join(self.f.workdir, "cm-*"))
        self.assertEqual(len(sockets), 1)
        check = self.f.run(["ssh", "-F", self.f.ssh_config, "-o", f"ControlPath={path}", "-O", "check",
                            self.f.hosts[0]["address"]], capture_output=True, text=True, timeout=120)
        self.assertEqual(check.returncode, 0, check.stderr)
        r = self.f.ssh(1, "echo again", options=opts, timeout=120)
        self.assertEqual(r.stdout, "again\n", r.stderr)
        done = self.f.run(["ssh", "-F", self.f.ssh_config, "-o", f"ControlPath={path}", "-O", "exit",
                           self.f.hosts[0]["address"]], capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        deadline = time.monotonic() + 90
        while glob.glob(os.path.join(self.f.workdir, "cm-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(glob.glob(os.path.join(self.f.workdir, "cm-*")), [])

    def test_inventory_toml(self):
        text = self.f.inventory_toml(env="staging", groups={"web": ["h01", "h02"],
                                                            "db": {"hosts": ["h03"], "roles": ["pg"]}},
                                     ssh_extra="jobs = 4")
        doc = tomllib.loads(text)
        self.assertEqual(doc["ssh"], {"config": self.f.ssh_config, "jobs": 4})
        self.assertEqual(doc["env"], {"staging": {"hosts": ["h01", "h02", "h03"]}})
        self.assertEqual(doc["host"]["h02"], {"address": "10.77.0.3", "user": "root",
                                              "tags": {"rack": "r1"}})
        self.assertEqual(doc["group"], {"web": {"hosts": ["h01", "h02"]},
                                        "db": {"hosts": ["h03"], "roles": ["pg"]}})
        self.assertNotIn("group", tomllib.loads(self.f.inventory_toml()))


class FleetLifecycleTest(unittest.TestCase):
    def up_or_skip(self, fleet):
        try:
            fleet.up()
        except FleetUnsupported as e:
            require(self, False, f"no test fleet: {e}")
        self.addCleanup(fleet.down)
        return fleet

    def test_down_removes_namespaces_processes_and_workdir(self):
        f = self.up_or_skip(Fleet(2))
        names = {f.ctl_netns} | {h["netns"] for h in f.hosts}
        self.assertLessEqual(names, netns_list())
        pids = list(f.pids.values())
        self.assertTrue(all(pid_alive(p) for p in pids))
        self.assertEqual(f.ssh(2, "echo ok").stdout, "ok\n")
        # A session left running on a host is killed too.
        f.run(["ssh", "-F", f.ssh_config, "-f", f.hosts[0]["address"], "sleep 300"], timeout=120)
        f.down()
        self.assertEqual(names & netns_list(), set())
        self.assertFalse(any(pid_alive(p) for p in pids))
        self.assertEqual(processes_mentioning(f.workdir), [])
        self.assertFalse(os.path.exists(f.workdir))
        f.down()  # idempotent

    def test_a_host_whose_sshd_fails_is_named_and_everything_is_torn_down(self):
        class BadFleet(Fleet):
            def _write_files(self):
                super()._write_files()
                with open(os.path.join(self.workdir, "sshd_config_2"), "a") as cfg:
                    cfg.write("NoSuchOption yes\n")

        f = BadFleet(2)
        try:
            with self.assertRaises(FleetError) as caught:
                f.up()
        except FleetUnsupported as e:
            require(self, False, f"no test fleet: {e}")
        message = str(caught.exception)
        self.assertIn("h02", message)
        self.assertIn("NoSuchOption", message)  # sshd's own complaint, from its log
        self.assertFalse(any(n.startswith(f"ssf{f.id}") for n in netns_list()))
        self.assertFalse(os.path.exists(f.workdir))

    def test_command_line_up_and_down(self):
        workdir = tempfile.mkdtemp(prefix="shipshape-fleet-cli-")
        self.addCleanup(lambda: subprocess.run([sys.executable, "fleet.py", "down", workdir], cwd=HERE,
                                               capture_output=True))
        r = subprocess.run([sys.executable, "fleet.py", "up", "2", workdir], cwd=HERE,
                           capture_output=True, text=True, timeout=120)
        if r.returncode == 3:
            require(self, False, f"no test fleet: {r.stderr.strip()}")
        self.assertEqual(r.returncode, 0, r.stderr)
        desc = json.loads(r.stdout)
        with open(os.path.join(workdir, "fleet.json")) as f:
            self.assertEqual(json.load(f), desc)
        # The fleet outlived the process that made it.
        f = Fleet.from_description(desc)
        self.assertEqual(f.ssh(1, "hostname -I").stdout.split(), ["10.77.0.2"])
        r = subprocess.run([sys.executable, "fleet.py", "down", workdir], cwd=HERE,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({desc["ctl_netns"]} & netns_list(), set())
        self.assertFalse(any(pid_alive(h["pid"]) for h in desc["hosts"]))
        self.assertTrue(os.path.isdir(workdir))  # the caller's directory stays
        subprocess.run(["rm", "-rf", workdir])

    def test_sigterm_tears_the_fleet_down(self):
        script = ("import sys, time\nfrom fleet import Fleet, FleetUnsupported\n"
                  "try:\n    f = Fleet(2).up()\nexcept FleetUnsupported as e:\n"
                  "    print('unsupported', e, flush=True); sys.exit(3)\n"
                  "print(f.ctl_netns, f.workdir, flush=True)\ntime.sleep(60)\n")
        p = subprocess.Popen([sys.executable, "-c", script], cwd=HERE, stdout=subprocess.PIPE,
                             text=True)
        self.addCleanup(p.kill)
        line = p.stdout.readline().split()
        require(self, line[:1] != ["unsupported"], f"no test fleet: {line}")
        ctl, workdir = line
        self.assertIn(ctl, netns_list())
        p.terminate()
        self.assertEqual(p.wait(timeout=120), -15)
        p.stdout.close()
        self.assertFalse(any(n.startswith(ctl[:-1]) for n in netns_list()))
        self.assertEqual(processes_mentioning(workdir), [])
        self.assertFalse(os.path.exists(workdir))

    def test_unprivileged_is_unsupported(self):
        require(self, os.geteuid() == 0 and os.path.exists("/usr/bin/setpriv"), "needs root and setpriv")
        with open(os.path.join(HERE, "fleet.py")) as src:
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                SYSTEM_PYTHON, "-", "up", "1", "/nonexistent/fleet"],
                               stdin=src, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("needs root", r.stderr)


if __name__ == "__main__":
    unittest.main()
