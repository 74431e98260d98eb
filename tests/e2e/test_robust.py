"""Robustness: large checklists, a read-only .shipshape, and a journal on a full disk."""
import os
import shutil
import subprocess
import unittest

from harness import BIN, RepoTestCase, Result, require


def can_mount(test):
    """Skips (fails under SHIPSHAPE_REQUIRE_ALL=1) without root or unshare: the tests below make
    a directory read-only, or give it a small tmpfs, in a private mount namespace, as permission
    bits do not stop root."""
    require(test, os.geteuid() == 0, "needs root to mount in a private mount namespace")
    require(test, shutil.which("unshare") is not None, "needs unshare (util-linux)")


class LargeChecklistTest(RepoTestCase):
    """A 100,000-step chain validates and plans, in file order, one wave per step. (Planning one
    took 46 s when every step was looked up by a scan; it takes under a second now. No time is
    asserted here: bench/plan.sh measures it.)"""

    def write_chain(self, n, reverse=False):
        lines = ['name = "long"\n']
        for i in range(n):
            lines.append(f'[[step]]\nid = "s{i}"\nrun = ["true"]\n')
            need = i + 1 if reverse else i - 1
            if 0 <= need < n:
                lines.append(f'needs = ["s{need}"]\n')
        self.write("checklists/long.toml", "".join(lines))

    def check_plan(self, n, order):
        r = self.shipshape("validate", "checklists/long.toml")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out, "1 files valid\n")
        r = self.shipshape("--json", "run", "--plan", "checklists/long.toml")
        self.assertEqual(r.code, 0, r.err)
        steps = r.json()["steps"]
        self.assertEqual(len(steps), n)
        for wave, (step, i) in enumerate(zip(steps, order), start=1):
            if step["id"] != f"s{i}" or step["wave"] != wave or step["verdict"] != "run":
                self.fail(f"plan step {wave}: {step}, expected s{i} in wave {wave}")
            expected_needs = [] if wave == 1 else [steps[wave - 2]["id"]]
            if step["needs"] != expected_needs:
                self.fail(f"plan step {wave}: needs {step['needs']}, expected {expected_needs}")

    def test_a_chain_of_100000_steps_validates_and_plans(self):
        n = 100000
        self.write_chain(n)
        self.check_plan(n, range(n))

    def test_a_reverse_chain_of_100000_steps_validates_and_plans(self):
        n = 100000
        self.write_chain(n, reverse=True)
        self.check_plan(n, range(n - 1, -1, -1))


class ReadOnlyStoreTest(RepoTestCase):
    """On a read-only .shipshape (a read-only bind mount, as a snapshot or a read-only share is),
    the commands that only read work, and one that writes fails saying why. Before, every command
    failed with "enabling WAL ... unable to open database file"."""

    def setUp(self):
        super().setUp()
        can_mount(self)
        self.write("checklists/two.toml", 'name = "two"\n[[step]]\nid = "a"\nrun = ["true"]\n'
                   '[[step]]\nid = "b"\nrun = ["false"]\nneeds = ["a"]\n')
        r = self.shipshape("--json", "run", "checklists/two.toml")
        self.assertEqual(r.code, 1, r)
        self.run_id = self.run_id_of(r)
        self.state_dir = os.path.join(self.repo, ".shipshape")

    def read_only(self, *args):
        """shipshape ARGS with .shipshape bind-mounted read-only over itself, in a private mount
        namespace (nothing outside the command sees the mount)."""
        script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                            "sh", self.state_dir, BIN, *args], cwd=self.repo,
                           capture_output=True, text=True, timeout=120, env=self.env,
                           stdin=subprocess.DEVNULL)
        return Result(r)

    def test_the_mount_is_read_only(self):
        r = subprocess.run(["unshare", "--mount", "sh", "-c",
                            'mount --bind -o ro "$1" "$1" && touch "$1/x"', "sh", self.state_dir],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Read-only file system", r.stderr)

    def test_runs_and_show_work(self):
        before = sorted(os.listdir(self.state_dir))
        r = self.read_only("runs")
        self.assertEqual(r.code, 0, r)
        self.assertIn(self.run_id, r.out)
        self.assertIn("failed", r.out)
        r = self.read_only("show", "last")
        self.assertEqual(r.code, 0, r)
        self.assertIn(f"run {self.run_id}: failed", r.out)
        r = self.read_only("--json", "show", self.run_id)
        self.assertEqual(r.code, 0, r)
        self.assertEqual({s["id"]: s["state"] for s in r.json()["steps"]},
                         {"a": "ok", "b": "failed"})
        self.assertEqual(sorted(os.listdir(self.state_dir)), before)

    def test_a_command_that_writes_fails_with_the_reason(self):
        r = self.read_only("run", "checklists/two.toml")
        self.assertEqual(r.code, 1, r)
        self.assertIn("attempt to write a readonly database (the store is open read-only: '"
                      f"{self.state_dir}/state.db' cannot be written: read-only file system)",
                      r.err)
        self.assertEqual(len(self.shipshape("--json", "runs").json()["runs"]), 1)


if __name__ == "__main__":
    unittest.main()
