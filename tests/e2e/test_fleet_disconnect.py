"""`shipshape fleet disconnect` against real hosts (fleet.py): the ssh master connections that
commands leave open (ControlPersist) are closed, and their control sockets removed."""
import os
import subprocess
import unittest

from harness import BIN, FleetTestCase, Result

N = 2


class FleetDisconnectTest(FleetTestCase):
    fleet_size = N

    def setUp(self):
        super().setUp()
        self.write("inventory.toml", self.fleet.inventory_toml(env="prod", ssh_extra='persist = "10m"'))
        self.write("shipshape.toml", 'name = "fleet-disconnect-test"\n')
        # The control sockets go to $XDG_RUNTIME_DIR/shipshape-ssh: one directory per test.
        self.runtime = os.path.join(self.tmp, "run")
        os.makedirs(self.runtime, mode=0o700)
        self.env["XDG_RUNTIME_DIR"] = self.runtime
        self.control_dir = os.path.join(self.runtime, "shipshape-ssh")
        self.names = [h["name"] for h in self.fleet.hosts]

    def ss(self, *args, timeout=120):
        r = subprocess.run(self.fleet.cmd([BIN, *args]), cwd=self.repo, capture_output=True,
                           text=True, timeout=timeout, env=self.env, stdin=subprocess.DEVNULL)
        return Result(r)

    def sockets(self):
        if not os.path.isdir(self.control_dir):
            return []
        return sorted(os.path.join(self.control_dir, f) for f in os.listdir(self.control_dir)
                      if not f.endswith(".log"))

    def master_running(self, socket):
        """Whether an ssh master answers on `socket` (ssh -O check, as a user would ask)."""
        r = subprocess.run(["ssh", "-o", f"ControlPath={socket}", "-O", "check", "any"],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        return r.returncode == 0

    def test_disconnect_closes_every_master_connection(self):
        r = self.ss("exec", "env:prod", "--", "true")
        self.assertEqual(r.code, 0, r)
        sockets = self.sockets()
        self.assertEqual(len(sockets), N, sockets)
        for s in sockets:
            self.assertTrue(self.master_running(s), s)

        r = self.ss("fleet", "disconnect")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out.splitlines(), [f"{name} | closed" for name in self.names], r)
        self.assertEqual(self.sockets(), [])
        for s in sockets:
            self.assertFalse(self.master_running(s), s)

        # Nothing is open any more: nothing to close, and that is no error.
        r = self.ss("--json", "fleet", "disconnect", self.names[0])
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["hosts"], [{"host": self.names[0], "status": "not connected"}])

    def test_disconnect_of_one_host_leaves_the_others_connected(self):
        r = self.ss("exec", "env:prod", "--", "true")
        self.assertEqual(r.code, 0, r)
        before = self.sockets()
        self.assertEqual(len(before), N, before)

        r = self.ss("fleet", "disconnect", self.names[0])
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out.splitlines(), [f"{self.names[0]} | closed"], r)
        after = self.sockets()
        self.assertEqual(len(after), N - 1, after)
        self.assertTrue(all(self.master_running(s) for s in after), after)
        # The host that stays connected still answers over its master.
        r = self.ss("exec", self.names[1], "--", "echo", "still here")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.sockets(), after)


if __name__ == "__main__":
    unittest.main()
