"""The README's "Images and the local lab" section, step by step, in an ops repo made by
`shipshape init` (the demo's): snapshot the `local` environment, build the image, run a test in
it, `lab up 3`, a rolling deploy, a package planted on one host, and `image check` saying patch
for it and, after a libc change, rebuild. The one departure from the README: the spec's
`sources` is the offline repository of genuine Debian .debs (debrepo.py), since tests never
download. Needs root (mmdebstrap --mode=root, overlays, network namespaces)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import debrepo
from harness import BIN, Result, require

ROLLOUT = """\
name = "rollout"
description = "Roll the booking release out to the lab"
[params.version]
required = true
[[step]]
id = "install"
on = "env:lab"
serial = 2
sh = "mkdir -p /opt/booking && echo {{version | sh}} > /opt/booking/VERSION && echo \\"$(hostname): booking $(cat /opt/booking/VERSION)\\""
verify = ["test", "-s", "/opt/booking/VERSION"]
"""

HOTFIX = """\
name = "hotfix"
version = "1.0"
architecture = "all"
maintainer = "Ops <ops@example.org>"
description = "a hotfix"
[[files]]
source = "hotfix"
destination = "etc/hotfix"
"""


class WalkthroughTest(unittest.TestCase):
    RESOURCE_LOCK = "dpkg"

    def setUp(self):
        require(self, os.geteuid() == 0, "the lab and mmdebstrap --mode=root need root")
        require(self, debrepo.unavailable() is None, str(debrepo.unavailable()))
        self.tmp = tempfile.mkdtemp(prefix="shipshape-walk-")
        self.repo = os.path.join(self.tmp, "demo")
        self.env = dict(os.environ, NO_COLOR="1")
        r = self.sh("init", self.repo, cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        self.source = debrepo.make_repo(os.path.join(self.tmp, "repo"))

    def tearDown(self):
        if os.path.exists(os.path.join(self.repo, ".shipshape", "lab")):
            self.sh("lab", "down")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sh(self, *args, cwd=None, timeout=300):
        r = subprocess.run([BIN, *args], cwd=cwd or self.repo, capture_output=True, text=True,
                           timeout=timeout, env=self.env, stdin=subprocess.DEVNULL)
        return Result(r)

    def write(self, rel, text):
        with open(os.path.join(self.repo, rel), "w") as f:
            f.write(text)

    def test_snapshot_build_run_lab_deploy_plant_check(self):
        # 1. Snapshot the demo environment, pinning dash.
        r = self.sh("image", "snapshot", "env:local", "-o", "images/prod.toml", "--keep", "dash")
        self.assertEqual(r.code, 0, r)
        self.assertIn("roles: booking", r.out)
        spec = open(os.path.join(self.repo, "images", "prod.toml")).read()
        self.assertIn('dash = "', spec)
        self.assertIn('roles = ["booking"]', spec)
        spec = spec.replace("roles = [", f'sources = ["{self.source}"]\nroles = [', 1)
        self.write("images/prod.toml", spec)
        # Another local host of another environment (as the demo adds): the image's state is
        # still rendered once, for the snapshot's host.
        with open(os.path.join(self.repo, "inventory.toml"), "a") as f:
            f.write('\n[env.prod]\nhosts = ["prod1"]\n[host.prod1]\naddress = "127.0.0.3"\n')
        # 2. Build it: the id is the last line.
        r = self.sh("image", "build", "images/prod.toml", "--set", "version=1.4.2")
        self.assertEqual(r.code, 0, r)
        image_id = r.out.strip().splitlines()[-1]
        self.assertRegex(image_id, r"^[0-9a-f]{64}$")
        listed = self.sh("--json", "image", "list").json()
        self.assertEqual([i["id"] for i in listed], [image_id])
        self.assertEqual(listed[0]["snapshot"].split(" at ")[0], "localhost")
        # 3. The app's test inside it, and a failing one: the exit code passes through.
        test = 'test -L /opt/booking/current && grep -q "release = 1.4.2" /etc/booking/app.conf'
        self.assertEqual(self.sh("image", "run", "prod", "--", "sh", "-c", test).code, 0)
        self.assertEqual(self.sh("image", "run", "prod", "--", "sh", "-c", "exit 7").code, 7)
        conf = self.sh("image", "run", "prod", "--", "cat", "/etc/booking/app.conf")
        self.assertIn("host = localhost\nenvironment = local\n", conf.out)
        # 4. Three lab hosts from it.
        r = self.sh("lab", "up", "3", "--image", "prod")
        self.assertEqual(r.code, 0, r)
        status = self.sh("--json", "lab", "status")
        self.assertEqual(status.code, 0, status)
        self.assertEqual(sorted(h["name"] for h in status.json()["hosts"]), ["lab1", "lab2", "lab3"])
        # 5. A rolling deploy across them.
        self.write("checklists/rollout.toml", ROLLOUT)
        r = self.sh("run", "checklists/rollout.toml", "--env", "lab", "--set", "version=1.4.2")
        self.assertEqual(r.code, 0, r)
        for host in ("lab1", "lab2", "lab3"):
            self.assertIn(f"{host}: booking 1.4.2", r.out)
        # 6. A hotfix package on lab2 only.
        self.write("packages/hotfix.toml", HOTFIX)
        self.write("packages/hotfix", "fixed\n")
        r = self.sh("package", "build", "packages/hotfix.toml", "-o", "work/packages")
        self.assertEqual(r.code, 0, r)
        self.write("states/hotfix.toml", '[[package]]\ndeb = "work/packages/hotfix_1.0_all.deb"\n')
        r = self.sh("apply", "lab2", "--state", "states/hotfix.toml")
        self.assertEqual(r.code, 0, r)
        r = self.sh("facts", "diff", "lab1", "lab2")
        self.assertEqual(r.code, 1, r)
        self.assertRegex(r.out, r"packages\s+hotfix\s+-\s+1\.0")
        # 7. image check: lab2 patch, the others none; a libc change on lab3 means rebuild.
        r = self.sh("--json", "image", "check", "env:lab", "--against", "prod")
        verdicts = {h["host"]: h["recommendation"] for h in r.json()["hosts"]}
        self.assertEqual(verdicts, {"lab1": "none", "lab2": "patch", "lab3": "none"}, r)
        self.assertEqual(r.code, 1, r)
        r = self.sh("exec", "lab3", "--", "sed", "-i",
                    "/^Package: libc6$/,/^$/s/^Version: .*/Version: 2.36-9+deb12u99/",
                    "/var/lib/dpkg/status")
        self.assertEqual(r.code, 0, r)
        r = self.sh("--json", "image", "check", "lab3", "--against", "prod")
        host = r.json()["hosts"][0]
        self.assertEqual(host["recommendation"], "rebuild", r)
        self.assertEqual([u["name"] for u in host["packages"]["upgrades"]], ["libc6"])
        # The image itself never changed: lab hosts write to their own layers.
        self.assertEqual(self.sh("image", "run", "prod", "--", "test", "-e", "/etc/hotfix").code, 1)
        r = self.sh("lab", "down")
        self.assertEqual(r.code, 0, r)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "inventory.lab.toml")))


if __name__ == "__main__":
    unittest.main()
