"""`shipshape image run IMG -- CMD`: the command runs in the image's root filesystem, in its
own namespaces, exits with the command's status, and never modifies the image."""
import os

import lab_image
from harness import RepoTestCase, require


class ImageRunTest(RepoTestCase):
    RESOURCE_LOCK = "dpkg"  # the first test on a machine makes the image base with mmdebstrap

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, "image run's tests use a root-made image base")
        self.images = os.path.join(self.repo, ".shipshape", "images")
        try:
            self.image = lab_image.make_image(self.images, "app",
                                              limits={"memory": 256 << 20, "open_files": 321})
        except lab_image.Unsupported as e:
            require(self, False, f"a test image: {e}")

    def run_sh(self, script, *options):
        return self.shipshape("image", "run", *options, "app", "--", "sh", "-c", script)

    def test_exit_status_passes_through(self):
        self.assertEqual(self.run_sh("exit 0").code, 0)
        self.assertEqual(self.run_sh("exit 7").code, 7)
        self.assertEqual(self.run_sh("kill -TERM $$").code, 143)
        r = self.shipshape("image", "run", self.image["id"][:8], "--", "cat", "/etc/debian_version")
        self.assertEqual(r.code, 0, r)
        self.assertTrue(r.out.startswith("12."), r.out)

    def test_the_image_is_never_modified(self):
        layer = os.path.join(self.image["dir"], "layer")
        r = self.run_sh("echo planted > /etc/planted && rm -f /etc/debian_version && "
                        "cat /etc/planted")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out, "planted\n")
        self.assertEqual(os.listdir(layer), [])
        self.assertFalse(os.path.exists(os.path.join(self.image["rootfs"], "etc", "planted")))
        self.assertTrue(os.path.exists(os.path.join(self.image["rootfs"], "etc", "debian_version")))
        r = self.run_sh("test -e /etc/planted || test ! -e /etc/debian_version")
        self.assertEqual(r.code, 1, r)

    def test_namespaces_hostname_network_and_pid(self):
        r = self.run_sh("cat /proc/sys/kernel/hostname; echo $$; "
                        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out, "app\n2\nlo\n")
        r = self.run_sh("cat /proc/sys/kernel/hostname", "--hostname", "box")
        self.assertEqual(r.out, "box\n")
        with open("/proc/net/dev") as f:
            ours = len(f.read().splitlines()) - 2
        r = self.run_sh("tail -n +3 /proc/net/dev | wc -l", "--network", "host")
        self.assertEqual(r.out.strip(), str(ours))

    def test_limits_from_the_image_or_none(self):
        r = self.run_sh("ulimit -n; cat /proc/self/cgroup")
        self.assertEqual(r.code, 0, r)
        self.assertTrue(r.out.startswith("321\n"), r.out)
        self.assertIn("/shipshape-run-", r.out)
        r = self.run_sh("ulimit -n; cat /proc/self/cgroup", "--limits", "none")
        self.assertFalse(r.out.startswith("321\n"), r.out)
        self.assertNotIn("/shipshape-run-", r.out)

    def test_bind_mounts(self):
        src = os.path.join(self.tmp, "src")
        os.makedirs(src)
        with open(os.path.join(src, "input"), "w") as f:
            f.write("in\n")
        r = self.run_sh("cat /src/input; echo out > /src/output", "--bind", f"{src}:/src")
        self.assertNotEqual(r.code, 0, r)  # read-only by default
        self.assertIn("in\n", r.out)
        r = self.run_sh("echo out > /src/output", "--bind", f"{src}:/src:rw")
        self.assertEqual(r.code, 0, r)
        with open(os.path.join(src, "output")) as f:
            self.assertEqual(f.read(), "out\n")

    def test_errors(self):
        r = self.shipshape("image", "run", "nosuch", "--", "true")
        self.assertEqual(r.code, 2, r)
        self.assertIn("nosuch", r.err)
        r = self.shipshape("image", "run", "app", "--", "/no/such/command")
        self.assertEqual(r.code, 2, r)
        self.assertIn("running '/no/such/command' in the container: No such file or directory",
                      r.err)
        r = self.shipshape("image", "run", "app")
        self.assertEqual(r.code, 2, r)
        self.assertIn("give the command after --", r.err)
