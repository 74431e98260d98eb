"""plan/apply/drift over several hosts, and the commands about this machine, as a new user
meets them: a tally naming the hosts that drifted or failed, natural host order, drift reusing
the parameters of the last apply, one apply per environment (the store's lock, naming its
holder), facts and require check outside an ops repo, and counts with the right plural.

The hosts h6, h7 and h10 have loopback addresses, so they are this machine under three names:
each is planned in-process against the same --root, which lets one apply leave some of them
drifted on purpose."""
import json
import os
import textwrap
import time
import unittest

from harness import RepoTestCase


class HostsTestCase(RepoTestCase):
    def setUp(self):
        super().setUp()
        self.write("shipshape.toml", 'name = "test"\n[roles]\nweb = ["states/web.toml"]\n')
        self.write("inventory.toml", textwrap.dedent("""\
            [env.qa]
            hosts = ["h10", "h7", "h6"]
            [host.h6]
            address = "127.0.0.6"
            [host.h7]
            address = "127.0.0.7"
            [host.h10]
            address = "127.0.0.10"
            [group.web]
            hosts = ["h6", "h7", "h10"]
            roles = ["web"]
            """))
        self.write("states/web.toml", textwrap.dedent("""\
            [[file]]
            path = "/etc/app.conf"
            template = true
            content = "host={{host}} version={{version}}\\n"
            """))
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(self.root, "etc"))

    def state(self, *args):
        return self.shipshape(*args, "--root", self.root)


class TallyTest(HostsTestCase):
    def test_multi_host_drift_and_apply_end_with_one_tally_in_natural_order(self):
        r = self.state("apply", "env:qa", "--set", "version=1")
        self.assertEqual(r.code, 0, r)
        # Each host's result once, in natural order (h6, h7, h10; not h10, h6, h7).
        self.assertEqual(r.out.count("Applied 1 of 1 change in"), 3, r)
        headers = [line.split()[0] for line in r.out.splitlines() if "  states: " in line]
        self.assertEqual(headers, ["h6", "h7", "h10"], r)
        self.assertIn("apply: 0 of 3 hosts failed; 3 ok", r.out)
        self.assertEqual(r.out.count("apply: "), 1, r)

        # The hosts took turns writing one file: only the last (h10) matches it now.
        r = self.state("drift", "env:qa", "--set", "version=1")
        self.assertEqual(r.code, 1, r)
        self.assertIn("drift: 2 of 3 hosts drifted (h6, h7); 1 in sync", r.out)
        self.assertEqual(r.out.count("drift: "), 1, r)
        headers = [line.split()[0] for line in r.out.splitlines() if "  states: " in line]
        self.assertEqual(headers, ["h6", "h7", "h10"], r)
        self.assertIn("no changes: matches its declared state (1 resource)", r.out)

        doc = self.state("--json", "drift", "env:qa", "--set", "version=1").json()
        self.assertEqual([h["host"] for h in doc["hosts"]], ["h6", "h7", "h10"])
        self.assertEqual(doc["tally"]["changed"], ["h6", "h7"])
        self.assertEqual(doc["tally"]["in_sync"], ["h10"])

    def test_one_host_has_no_tally(self):
        r = self.state("drift", "h10", "--set", "version=1")
        self.assertEqual(r.code, 1, r)
        self.assertNotIn("drift: ", r.out)


class AppliedParamsTest(HostsTestCase):
    def test_drift_and_plan_use_the_parameters_of_the_last_apply(self):
        r = self.state("apply", "h6", "--set", "version=1.4.2")
        self.assertEqual(r.code, 0, r)
        # No --set: before, "unknown variable 'version'" (exit 2).
        r = self.state("drift", "h6")
        self.assertEqual(r.code, 0, r)
        self.assertIn("h6: using version=1.4.2 from the last apply (--set overrides)", r.err)
        self.assertIn("no changes", r.out)
        r = self.state("plan", "h6")
        self.assertEqual(r.code, 0, r)
        self.assertIn("no changes", r.out)
        # An explicit --set wins.
        r = self.state("drift", "h6", "--set", "version=2.0")
        self.assertEqual(r.code, 1, r)
        self.assertIn("+host=h6 version=2.0", r.out)
        # A host never applied has nothing recorded.
        r = self.state("drift", "h7")
        self.assertEqual(r.code, 2, r)
        self.assertIn("unknown variable 'version'", r.err)


class ApplyLockTest(HostsTestCase):
    def test_a_second_apply_on_the_environment_is_refused_naming_the_holder(self):
        gate = os.path.join(self.tmp, "go")
        started = os.path.join(self.tmp, "started")
        self.write("states/web.toml", textwrap.dedent(f"""\
            [[command]]
            run = ["sh", "-c", "touch {started}; while [ ! -e {gate} ]; do sleep 0.05; done"]
            unless = ["test", "-e", "{gate}"]
            """))
        first = self.start("apply", "h6", "--root", self.root)
        try:
            # The first apply holds the lock while it is in its command: wait for that.
            deadline = time.monotonic() + 120
            while not os.path.exists(started) and time.monotonic() < deadline:
                self.assertIsNone(first.poll(), "the first apply ended early")
                time.sleep(0.05)
            self.assertTrue(os.path.exists(started), "the first apply never reached its command")
            second = self.state("apply", "h7")
            self.assertEqual(second.code, 1, second)
            self.assertIn("shipshape: environment 'qa' is locked by an apply (pid "
                          f"{first.pid} on ", second.err)
            self.assertIn("; wait for it to finish, or stop it first", second.err)
            # plan takes no lock.
            self.assertEqual(self.state("plan", "h7").code, 0)
        finally:
            open(gate, "w").close()
            out, err = first.communicate(timeout=120)
        self.assertEqual(first.returncode, 0, out + err)
        # Released: the next apply runs.
        r = self.state("apply", "h7")
        self.assertEqual(r.code, 0, r)


class ThisMachineTest(RepoTestCase):
    def test_facts_and_require_check_need_no_ops_repo(self):
        here = os.path.join(self.tmp, "elsewhere")
        os.makedirs(here)
        with open(os.path.join(here, "needs.toml"), "w") as f:
            f.write("[resources]\ncpus = 1\n")
        r = self.shipshape("facts", "--only", "os", cwd=here)
        self.assertEqual(r.code, 0, r)
        self.assertTrue(r.out.startswith("localhost\n"), r)
        r = self.shipshape("--json", "facts", "--only", "os", cwd=here)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["hosts"][0]["host"], "localhost")
        r = self.shipshape("require", "check", "--file", "needs.toml", cwd=here)
        self.assertEqual(r.code, 0, r)
        self.assertIn("1 requirement checked on 1 host: 0 not met", r.out)
        # Naming other hosts still needs an inventory.
        r = self.shipshape("facts", "web1", cwd=here)
        self.assertEqual(r.code, 2, r)
        self.assertIn("naming hosts ('web1') needs an ops repo", r.err)
        self.assertFalse(os.path.exists(os.path.join(here, ".shipshape")))

    def test_an_inventory_of_remote_hosts_only_still_has_this_machine(self):
        self.write("inventory.toml", '[env.prod]\nhosts = ["web1"]\n[host.web1]\n'
                                     'address = "10.0.0.1"\n')
        self.write("requirements.toml", "[resources]\ncpus = 1\n")
        r = self.shipshape("facts", "--only", "os")
        self.assertEqual(r.code, 0, r)  # was: no host matches 'localhost'
        self.assertTrue(r.out.startswith("localhost\n"), r)
        r = self.shipshape("require", "check")
        self.assertEqual(r.code, 0, r)

    def test_require_check_names_the_hosts_that_fall_short(self):
        self.write("inventory.toml", textwrap.dedent("""\
            [env.qa]
            hosts = ["h10", "h6"]
            [host.h6]
            address = "127.0.0.6"
            [host.h10]
            address = "127.0.0.10"
            """))
        self.write("requirements.toml", '[resources]\nmemory = "100000 TiB"\ncpus = 1\n')
        r = self.shipshape("require", "check", "env:qa")
        self.assertEqual(r.code, 1, r)
        self.assertIn("4 requirements checked on 2 hosts: 2 not met on 2 hosts (h6, h10)", r.out)
        rows = [line.split()[0] for line in r.out.splitlines()[1:-1]]
        self.assertEqual(rows, ["h6", "h6", "h10", "h10"], r)

    def test_one_difference_is_singular(self):
        base = {"schema": "shipshape.facts/1", "host": "x", "collected_at": 1,
                "os": {"id": "debian", "kernel": "6.1.0-18-amd64"}}
        other = json.loads(json.dumps(base))
        other["os"]["kernel"] = "6.1.0-13-amd64"
        ids = []
        for doc in (base, other):
            path = os.path.join(self.tmp, "f.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            r = self.shipshape("facts", "import", "localhost", path)
            self.assertEqual(r.code, 0, r)
            ids.append(r.out.split("@")[1].strip())
        r = self.shipshape("facts", "diff", "@" + ids[0], "@" + ids[1])
        self.assertEqual(r.code, 1, r)
        self.assertTrue(r.out.rstrip().endswith("\n1 difference"), r)


if __name__ == "__main__":
    unittest.main()
