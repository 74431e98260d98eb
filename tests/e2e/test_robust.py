"""Robustness: large checklists, a read-only .shipshape, and a journal on a full disk."""
import os
import unittest

from harness import RepoTestCase


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


if __name__ == "__main__":
    unittest.main()
