"""Remote --root: plan, apply and drift with --root DIR against remote hosts work below DIR on
each host. DIR exists only on the hosts (each has its own tmpfs /srv), not on the controller:
the controller used to refuse it ("--root DIR: not a directory"), and drift --save described
the host's / instead of DIR."""
import json
import os
import sqlite3
import subprocess
import unittest

from harness import BIN, FleetTestCase, Result

N = 2
ROOT = "/srv/image"


class RemoteRootTest(FleetTestCase):
    fleet_size = N

    def setUp(self):
        super().setUp()
        names = [h["name"] for h in self.fleet.hosts]
        self.write("inventory.toml", self.fleet.inventory_toml(
            env="prod", groups={"web": {"hosts": names, "roles": ["app"]}}))
        self.write("shipshape.toml", 'name = "root-test"\n[roles]\napp = ["states/app.toml"]\n')
        self.write("states/app.toml", '[[file]]\npath = "/etc/app.conf"\ntemplate = true\n'
                                      'content = "host={{host}} version={{version}}\\n"\n')
        for h in self.fleet.hosts:
            r = self.fleet.ssh(h["index"], f"rm -rf {ROOT} && mkdir -p {ROOT}/etc")
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(ROOT), f"{ROOT} must not exist on the controller")

    def ss(self, *args, timeout=120):
        r = subprocess.run(self.fleet.cmd([BIN, *args]), cwd=self.repo, capture_output=True,
                           text=True, timeout=timeout, env=self.env, stdin=subprocess.DEVNULL)
        return Result(r)

    def on_host(self, i, command):
        r = self.fleet.ssh(i, command)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_plan_apply_and_drift_work_below_the_root_on_each_host(self):
        r = self.ss("plan", "env:prod", "--root", ROOT, "--set", "version=1")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out.count("+ file /etc/app.conf"), N, r)
        r = self.ss("apply", "env:prod", "--root", ROOT, "--set", "version=1")
        self.assertEqual(r.code, 0, r)
        for h in self.fleet.hosts:
            self.assertEqual(self.on_host(h["index"], f"cat {ROOT}/etc/app.conf"),
                             f"host={h['name']} version=1\n")
            self.assertEqual(self.on_host(h["index"], "test -e /etc/app.conf || echo absent"),
                             "absent\n", "written outside the root")
        # drift reuses version=1 and finds every host in sync below the root.
        r = self.ss("drift", "env:prod", "--root", ROOT, "--save")
        self.assertEqual(r.code, 0, r)
        self.assertIn(f"drift: 0 of {N} hosts drifted; {N} in sync", r.out)
        # The saved report describes the root: the file is there (it is missing at /).
        first = self.fleet.hosts[0]["name"]
        with sqlite3.connect(os.path.join(self.repo, ".shipshape/state.db")) as db:
            (doc,) = db.execute("SELECT document FROM host_states WHERE host = ? "
                                "ORDER BY id DESC LIMIT 1", (first,)).fetchone()
        self.assertEqual(json.loads(doc)["paths"]["/etc/app.conf"]["kind"], "file", doc)
        self.on_host(1, f"echo tampered > {ROOT}/etc/app.conf")
        r = self.ss("--json", "drift", "env:prod", "--root", ROOT)
        self.assertEqual(r.code, 1, r)
        drifted = [h["host"] for h in r.json()["hosts"] if h.get("drifted")]
        self.assertEqual(drifted, [first])

    def test_a_relative_root_is_refused_for_remote_hosts(self):
        r = self.ss("plan", "env:prod", "--root", "image", "--set", "version=1")
        self.assertEqual(r.code, 2, r)
        self.assertIn("--root image: give an absolute path for remote hosts", r.err)


if __name__ == "__main__":
    unittest.main()
