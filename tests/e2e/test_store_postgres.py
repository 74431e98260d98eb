"""A PostgreSQL store shared by two working copies (two ops repo directories, as two people or
machines would have), on a server the test starts itself (pgserver.py): `store migrate`, the
environment lock held across them, and one history."""
import os
import re
import shutil
import signal
import socket
import time

from harness import RepoTestCase, require
from pgserver import start_for_tests


class PostgresStoreTest(RepoTestCase):
    server = None
    unavailable = None
    databases = 0

    @classmethod
    def setUpClass(cls):
        cls.server, cls.unavailable = start_for_tests("shipshape-e2e-pg-")

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()

    def setUp(self):
        super().setUp()
        require(self, self.server is not None, f"a test PostgreSQL server: {self.unavailable}")
        PostgresStoreTest.databases += 1
        self.uri = self.server.createdb(f"e2e{PostgresStoreTest.databases}_{os.getpid()}")
        self.env["SHIPSHAPE_STORE"] = self.uri
        self.write("inventory.toml", '[env.prod]\nhosts = ["localhost"]\n')
        self.write("checklists/hold.toml", """
            [[step]]
            id = "hold"
            sh = "touch started; sleep 60"
            """)

    def test_migrate_is_needed_and_says_the_version(self):
        r = self.shipshape("runs")
        self.assertEqual(r.code, 1, r)
        # This shipshape's version: one per migration, however many that is today.
        m = re.search(r"has schema version 0 and this shipshape needs (\d+): run 'shipshape "
                      r"store migrate' to upgrade it", r.err)
        self.assertIsNotNone(m, r.err)
        version = int(m.group(1))
        self.assertGreaterEqual(version, 1)
        r = self.shipshape("store", "migrate")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out, f"store {self.uri}: schema version {version} (migrated from 0)\n")
        r = self.shipshape("--json", "store", "migrate")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json(), {"kind": "store-migrate", "store": self.uri, "from": version,
                                    "to": version})
        r = self.shipshape("runs")
        self.assertEqual(r.code, 0, r)

    def test_an_unreachable_store_is_named_without_its_password(self):
        env = dict(self.env, SHIPSHAPE_STORE="postgresql://ops:s3cret@%2Fnonexistent/x")
        r = self.shipshape("runs", env=env)
        self.assertEqual(r.code, 1, r)
        self.assertIn("connecting to the store 'postgresql://ops:***@%2Fnonexistent/x': ", r.err)
        self.assertNotIn("s3cret", r.err)

    def test_two_working_copies_share_the_environment_lock_and_the_history(self):
        r = self.shipshape("store", "migrate")
        self.assertEqual(r.code, 0, r)
        second = os.path.join(self.tmp, "ops2")
        shutil.copytree(self.repo, second)
        alice = dict(self.env, USER="alice")
        holder = self.start("run", "checklists/hold.toml", "--env", "prod", env=alice)
        try:
            self.wait_for(lambda: os.path.exists(os.path.join(self.repo, "started")),
                          what="the first working copy's run to start")
            runs = self.shipshape("--json", "runs", cwd=second).json()["runs"]
            self.assertEqual(len(runs), 1)
            holder_run = runs[0]["id"]
            self.assertEqual(runs[0]["env"], "prod")
            r = self.shipshape("run", "checklists/hold.toml", "--env", "prod", cwd=second)
            self.assertEqual(r.code, 1, r)
            self.assertIn(f"environment 'prod' is locked by run {holder_run} (pid {holder.pid} "
                          f"on {socket.gethostname()}, started 20", r.err)
            self.assertIn(", by alice)", r.err)
            self.assertFalse(os.path.exists(os.path.join(second, "started")))
        finally:
            os.killpg(holder.pid, signal.SIGTERM)
            holder.communicate(timeout=60)
        # Once the holder has let go, the second working copy runs, and both see both runs.
        self.write("checklists/quick.toml", '[[step]]\nid = "q"\nrun = ["true"]\n')
        shutil.copy(os.path.join(self.repo, "checklists", "quick.toml"),
                    os.path.join(second, "checklists", "quick.toml"))
        r = self.shipshape("run", "checklists/quick.toml", "--env", "prod", cwd=second)
        self.assertEqual(r.code, 0, r)
        ids = [run["id"] for run in self.shipshape("--json", "runs").json()["runs"]]
        self.assertEqual(len(ids), 2)
        self.assertIn(holder_run, ids)


class StoreMigrateSqliteTest(RepoTestCase):
    """`store migrate` on the default SQLite store, and SHIPSHAPE_STORE naming another one."""

    def test_migrate_creates_the_store_and_says_its_version(self):
        db = os.path.join(self.repo, ".shipshape", "state.db")
        r = self.shipshape("store", "migrate")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, rf"^store {db}: schema version (\d+) \(migrated from 0\)\n$")
        r = self.shipshape("store", "migrate")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, rf"^store {db}: schema version \d+, up to date\n$")

    def test_shipshape_store_overrides_the_project_and_is_relative_to_the_working_dir(self):
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(elsewhere)
        self.write("checklists/quick.toml", '[[step]]\nid = "q"\nrun = ["true"]\n')
        env = dict(self.env, SHIPSHAPE_STORE="other.db")
        r = self.shipshape("-C", self.repo, "run", os.path.join(self.repo, "checklists/quick.toml"),
                           cwd=elsewhere, env=env)
        self.assertEqual(r.code, 0, r)
        self.assertTrue(os.path.exists(os.path.join(elsewhere, "other.db")))
        self.assertFalse(os.path.exists(os.path.join(self.repo, ".shipshape", "state.db")))
        r = self.shipshape("--json", "runs")
        self.assertEqual(r.json()["runs"], [])  # the project's own store saw nothing


if __name__ == "__main__":
    import unittest
    unittest.main()
