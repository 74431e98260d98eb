"""`shipshape lab up|down|status`: a fleet of containers of an image on this machine, each with
its own sshd, network namespace and persistent overlay root; and the lab inventory's merge."""
import glob
import json
import os
import signal
import subprocess
import tempfile
import time

import lab_image
from harness import RepoTestCase, pid_alive, read_text, require


def _pids_in_netns(netns):
    """Processes whose network namespace is /run/netns/<netns>."""
    try:
        want = os.stat(f"/run/netns/{netns}")
    except OSError:
        return []
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{e}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
            out.append(int(e))
    return out


def _marker_deb(path, name="lab-marker", version="1.0"):
    """A tiny Debian package with no dependencies, built with dpkg-deb."""
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "DEBIAN"))
        with open(os.path.join(d, "DEBIAN", "control"), "w") as f:
            f.write(f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
                    "Maintainer: test <t@example.com>\nDescription: planted on one lab host\n")
        os.makedirs(os.path.join(d, "usr", "share", name))
        with open(os.path.join(d, "usr", "share", name, "marker"), "w") as f:
            f.write("planted\n")
        subprocess.run(["dpkg-deb", "--root-owner-group", "-b", d, path], check=True,
                       capture_output=True)


class LabTest(RepoTestCase):
    RESOURCE_LOCK = "dpkg"  # the first test on a machine makes the image base with mmdebstrap

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, "lab needs root (network namespaces, a bridge, mounts)")
        try:
            self.image = lab_image.make_image(os.path.join(self.repo, ".shipshape", "images"),
                                              "labimg")
        except lab_image.Unsupported as e:
            require(self, False, f"a test image: {e}")

    def tearDown(self):
        if os.path.exists(os.path.join(self.repo, ".shipshape", "lab")):
            self.shipshape("lab", "down")
        super().tearDown()

    def status(self):
        r = self.shipshape("--json", "lab", "status")
        self.assertEqual(r.code, 0, r)
        return r.json()

    def lab_json(self):
        with open(os.path.join(self.repo, ".shipshape", "lab", "lab.json")) as f:
            return json.load(f)

    def assert_gone(self, state):
        """Nothing the lab made is left: namespaces, links, processes, mounts, files."""
        lab_id = state["id"]
        self.assertEqual(glob.glob(f"/run/netns/sslab-{lab_id}-*"), [])
        self.assertEqual(glob.glob(f"/sys/class/net/sslab{lab_id}*"), [])
        for h in state["hosts"]:
            self.assertFalse(pid_alive(h["pid"]), f"{h['name']}'s init {h['pid']} survives")
        self.assertNotIn(os.path.join(self.repo, ".shipshape", "lab"),
                         read_text("/proc/self/mountinfo"))
        self.assertFalse(os.path.exists(os.path.join(self.repo, ".shipshape", "lab")))
        self.assertFalse(os.path.exists(os.path.join(self.repo, "inventory.lab.toml")))

    def test_up_exec_facts_differ_repair_down(self):
        r = self.shipshape("lab", "up", "2", "--image", "labimg")
        self.assertEqual(r.code, 0, r)
        self.assertIn("2 started", r.out)
        inv = self.read("inventory.lab.toml")
        self.assertTrue(inv.startswith("# Written by `shipshape lab up`"), inv)
        st = self.status()
        self.assertEqual([(h["name"], h["running"]) for h in st["hosts"]],
                         [("lab1", True), ("lab2", True)])
        self.assertEqual(st["env"], "lab")

        r = self.shipshape("hosts", "--env", "lab")
        self.assertEqual(r.code, 0, r)
        self.assertIn("lab1", r.out)
        self.assertIn("lab2", r.out)
        # Each host is its own machine: its hostname, over ssh, through the agent.
        r = self.shipshape("--json", "exec", "env:lab", "--", "cat", "/proc/sys/kernel/hostname")
        self.assertEqual(r.code, 0, r)
        self.assertIn("lab1", r.out)
        self.assertIn("lab2", r.out)
        r = self.shipshape("facts", "lab1", "lab2")
        self.assertEqual(r.code, 0, r)
        self.assertNotIn("problem", r.out)  # /proc, /sys, /dev are there for the collectors

        # A package installed on lab1 only: facts diff sees it there, and only there.
        state = self.lab_json()
        lab1_root = os.path.join(self.repo, ".shipshape", "lab", "lab1", "upper", "root")
        os.makedirs(lab1_root, exist_ok=True)
        _marker_deb(os.path.join(lab1_root, "marker.deb"))
        r = self.shipshape("exec", "lab1", "--", "dpkg", "-i", "/root/marker.deb")
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("--json", "facts", "diff", "lab1", "lab2")
        self.assertEqual(r.code, 1, r)
        self.assertIn("lab-marker", r.out)
        r = self.shipshape("exec", "lab2", "--", "test", "-e", "/usr/share/lab-marker/marker")
        self.assertEqual(r.code, 1, r)
        self.assertFalse(os.path.exists(os.path.join(self.image["rootfs"], "usr/share/lab-marker")))

        # Twice is idempotent: nothing restarted.
        r = self.shipshape("lab", "up", "2")
        self.assertEqual(r.code, 0, r)
        self.assertIn("0 started, 2 already running", r.out)
        self.assertEqual([h["pid"] for h in self.lab_json()["hosts"]],
                         [h["pid"] for h in state["hosts"]])

        # kill -9 lab1's sshd: status says so, up repairs it, lab1 keeps its package.
        sshd = [p for p in _pids_in_netns(state["hosts"][0]["netns"])
                if read_text(f"/proc/{p}/comm").strip() == "sshd"]
        self.assertTrue(sshd, "no sshd in lab1's namespace")
        for p in sshd:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass  # a session's sshd that ended with the listener killed before it
        self.wait_for(lambda: not self.status()["hosts"][0]["running"], what="lab1 to be down")
        self.assertTrue(self.status()["hosts"][1]["running"])
        r = self.shipshape("lab", "up", "2")
        self.assertEqual(r.code, 0, r)
        self.assertIn("1 started, 1 already running", r.out)
        r = self.shipshape("exec", "lab1", "--", "test", "-e", "/usr/share/lab-marker/marker")
        self.assertEqual(r.code, 0, r)

        state = self.lab_json()
        r = self.shipshape("lab", "down")
        self.assertEqual(r.code, 0, r)
        self.assert_gone(state)
        r = self.shipshape("hosts")
        self.assertNotIn("lab1", r.out)
        r = self.shipshape("lab", "down")
        self.assertEqual(r.code, 0, r)
        self.assertIn("nothing to remove", r.out)

    def test_down_cleans_up_without_its_state_file(self):
        r = self.shipshape("lab", "up", "2")
        self.assertEqual(r.code, 0, r)
        state = self.lab_json()
        os.unlink(os.path.join(self.repo, ".shipshape", "lab", "lab.json"))
        r = self.shipshape("lab", "down")
        self.assertEqual(r.code, 0, r)
        self.wait_for(lambda: not any(pid_alive(h["pid"]) for h in state["hosts"]),
                      what="the hosts' processes to end")
        self.assert_gone(state)

    def test_up_after_a_killed_init_and_a_deleted_namespace(self):
        r = self.shipshape("lab", "up", "3")
        self.assertEqual(r.code, 0, r)
        state = self.lab_json()
        os.kill(state["hosts"][0]["pid"], signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", state["hosts"][1]["netns"]], check=True)
        r = self.shipshape("lab", "up", "2")
        self.assertEqual(r.code, 0, r)
        self.assertIn("2 started, 0 already running, 1 removed", r.out)
        self.assertFalse(os.path.exists(f"/run/netns/{state['hosts'][2]['netns']}"))
        r = self.shipshape("exec", "env:lab", "--", "true")
        self.assertEqual(r.code, 0, r)

    def test_image_without_sshd(self):
        images = os.path.join(self.repo, ".shipshape", "images")
        img = lab_image.make_image(images, "nosshd")
        # A whiteout in the image's layer hides the base's sshd.
        os.makedirs(os.path.join(img["dir"], "layer", "usr", "sbin"))
        os.mknod(os.path.join(img["dir"], "layer", "usr", "sbin", "sshd"), 0o600 | 0o020000,
                 os.makedev(0, 0))
        r = self.shipshape("lab", "up", "1", "--image", "nosshd")
        self.assertEqual(r.code, 2, r)
        self.assertIn("image nosshd has no /usr/sbin/sshd: add openssh-server to its [packages]",
                      r.err)
        self.assertFalse(glob.glob("/run/netns/sslab-*-1") and
                         os.path.exists(os.path.join(self.repo, "inventory.lab.toml")))


class LabInventoryTest(RepoTestCase):
    def test_lab_inventory_is_merged_and_clashes_name_both_files(self):
        self.write("inventory.lab.toml", '[env.lab]\nhosts = ["lab1"]\n'
                   '[host.lab1]\naddress = "10.9.9.2"\nuser = "root"\n')
        r = self.shipshape("--json", "hosts", "--env", "lab")
        self.assertEqual(r.code, 0, r)
        self.assertEqual([h["name"] for h in r.json()["hosts"]], ["lab1"])
        self.write("inventory.lab.toml", '[env.staging]\nhosts = ["lab1"]\n')
        r = self.shipshape("hosts")
        self.assertEqual(r.code, 2, r)
        self.assertIn("environment 'staging' is defined in both", r.err)
        self.assertIn("inventory.toml and", r.err)
        self.assertIn("inventory.lab.toml", r.err)

    def test_lab_needs_root(self):
        require(self, os.geteuid() == 0 and os.path.exists("/usr/bin/setpriv"),
                "running as another user needs root and setpriv")
        os.chmod(self.tmp, 0o755)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            os.path.abspath(lab_image_bin()), "lab", "up", "1"], cwd=self.repo,
                           capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("lab needs root", r.stderr)


def lab_image_bin():
    from harness import BIN
    return BIN
