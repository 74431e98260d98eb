"""`shipshape store copy`, black-box: a person's SQLite history (runs with steps, a check-off and
events, facts) copied into a team's PostgreSQL (a server the test starts itself, pgserver.py),
then copied again without duplicating anything; `shipshape runs` against the PostgreSQL store
shows the copied runs. Bad input (an unknown scheme, an unreachable target, a missing source)
is refused with the reason and writes nothing."""
import os
import shutil
import tempfile

from harness import RepoTestCase, require
from pgserver import start_for_tests


class StoreCopyTest(RepoTestCase):
    server = None
    unavailable = None
    databases = 0

    @classmethod
    def setUpClass(cls):
        cls.server, cls.unavailable = start_for_tests("shipshape-e2e-pgcopy-")

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()

    def setUp(self):
        super().setUp()
        require(self, self.server is not None, f"a test PostgreSQL server: {self.unavailable}")
        StoreCopyTest.databases += 1
        # A new, empty database: the copy migrates it.
        self.uri = self.server.createdb(f"copy{StoreCopyTest.databases}_{os.getpid()}")
        self.write("checklists/deploy.toml", """
            name = "deploy"
            [[step]]
            id = "build"
            sh = "echo built"
            [[step]]
            id = "qa"
            manual = "QA confirms"
            role = "qa"
            needs = ["build"]
            """)
        self.write("checklists/quick.toml", 'name = "quick"\n[[step]]\nid = "hello"\n'
                                            'sh = "echo hello"\n')
        # The history: a done run, a run checked off and resumed to done, a run waiting for QA.
        self.ids = []
        r = self.shipshape("run", "checklists/quick.toml")
        self.assertEqual(r.code, 0, r)
        self.ids.append(r.out.split("run ")[1].split()[0])
        for _ in range(2):
            r = self.shipshape("run", "checklists/deploy.toml", "--env", "staging")
            self.assertEqual(r.code, 4, r)
            self.ids.append(r.out.split("run ")[1].split()[0])
        r = self.shipshape("check-off", self.ids[1], "qa", "--as", "qa", "--by", "alice",
                           "--note", "fine")
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("facts", "--save")
        self.assertEqual(r.code, 0, r)

    def copy(self, *extra, source=".shipshape/state.db", target=None):
        return self.shipshape("--json", "store", "copy", "--from", source,
                              "--to", target or self.uri, *extra)

    def pg_runs(self):
        env = dict(self.env, SHIPSHAPE_STORE=self.uri)
        r = self.shipshape("--json", "runs", env=env)
        self.assertEqual(r.code, 0, r)
        return r.json()["runs"]

    def test_copy_then_again_duplicates_nothing(self):
        sqlite_runs = self.shipshape("--json", "runs").json()["runs"]
        r = self.copy()
        self.assertEqual(r.code, 0, r)
        parts = {p["part"]: (p["copied"], p["skipped"]) for p in r.json()["parts"]}
        self.assertEqual(parts["runs"], (3, 0))
        self.assertEqual(parts["facts snapshots"], (1, 0))
        self.assertEqual(r.json()["to"], self.uri)
        # `shipshape runs` against the PostgreSQL store shows the same runs, same statuses.
        copied = self.pg_runs()
        self.assertEqual([(x["id"], x["status"], x["env"]) for x in copied],
                         [(x["id"], x["status"], x["env"]) for x in sqlite_runs])
        env = dict(self.env, SHIPSHAPE_STORE=self.uri)
        shown = self.shipshape("--json", "show", self.ids[1], env=env)
        self.assertEqual(shown.code, 0, shown)
        local = self.show(self.ids[1])
        self.assertEqual(shown.json()["steps"], local["steps"])
        self.assertEqual(len(shown.json()["events"]), len(local["events"]))

        # The filters of `shipshape runs` work on the PostgreSQL store (in its SQL).
        r = self.shipshape("--json", "runs", "--checklist", "quick", env=env)
        self.assertEqual([x["id"] for x in r.json()["runs"]], [self.ids[0]])
        r = self.shipshape("--json", "runs", "--env", "staging", "--limit", "1", env=env)
        self.assertEqual([x["id"] for x in r.json()["runs"]], [self.ids[2]])
        r = self.shipshape("runs", "--env", "x' OR '1'='1", env=env)
        self.assertEqual((r.code, r.out), (0, "no runs match\n"))
        r = self.shipshape("runs", "--status", "bogus", env=env)
        self.assertEqual(r.code, 2, r)

        # Again: everything is already there.
        r = self.copy()
        self.assertEqual(r.code, 0, r)
        parts = {p["part"]: (p["copied"], p["skipped"]) for p in r.json()["parts"]}
        self.assertEqual(parts["runs"], (0, 3))
        self.assertEqual(parts["facts snapshots"], (0, 1))
        self.assertEqual(len(self.pg_runs()), 3)
        again = self.shipshape("--json", "show", self.ids[1], env=env).json()
        self.assertEqual(len(again["events"]), len(local["events"]))

        # A run recorded since is picked up by the next copy, and only it.
        r = self.shipshape("run", "checklists/quick.toml")
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("store", "copy", "--from", ".shipshape/state.db", "--to", self.uri)
        self.assertEqual(r.code, 0, r)
        self.assertIn("  runs: copied 1, skipped 3 already present\n", r.out)
        self.assertEqual(len(self.pg_runs()), 4)

    def test_bad_input_is_refused_and_writes_nothing(self):
        for target, code, reason in [
                ("mysql://db/x", 2, "store 'mysql://db/x': unknown scheme"),
                ("postgresql://u:hunter2@%2Fnonexistent-dir/x", 1,
                 "connecting to the store 'postgresql://u:***@%2Fnonexistent-dir/x'")]:
            r = self.shipshape("store", "copy", "--from", ".shipshape/state.db", "--to", target)
            self.assertEqual(r.code, code, r)
            self.assertIn(reason, r.err)
            self.assertNotIn("hunter2", r.err + r.out)
        r = self.copy(source="missing.db")
        self.assertEqual(r.code, 1, r)
        self.assertIn("missing.db", r.out + r.err)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "missing.db")))
        # The target was not touched: it is still an empty, unmigrated database.
        env = dict(self.env, SHIPSHAPE_STORE=self.uri)
        r = self.shipshape("runs", env=env)
        self.assertEqual(r.code, 1, r)
        self.assertIn("has schema version 0", r.err)
