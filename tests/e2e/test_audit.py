"""`shipshape audit`, black-box (#17): runs and a check-off fill the hash-chained ledger; the
store is then tampered with directly (table `audit`: one field edited, a row deleted, two rows
swapped, a forged row with a self-consistent hash slipped into the middle) and each time
`audit verify` exits 1 naming the first bad entry, and 0 once the table is restored. An export
verifies with no store (`--file`), and a tampered or truncated line is named as FILE:LINE. The
same against PostgreSQL (a server the test starts itself, pgserver.py). The entry hash is
recomputed here from docs/specs/audit.md, independently of the C++ code."""
import hashlib
import json
import os
import re
import sqlite3
import subprocess

from harness import RepoTestCase, require
from pgserver import bindir, start_for_tests

GENESIS = "0" * 64


def entry_hash(e):
    """docs/specs/audit.md: sha256 of the versioned, length-prefixed encoding."""
    out = b"shipshape-audit-v1\n"
    for field in (e["prev_hash"], str(e["seq"]), str(e["at"]), e["kind"], e["actor"],
                  e["subject"], e["detail"]):
        data = field.encode()
        out += str(len(data)).encode() + b":" + data + b"\n"
    return hashlib.sha256(out).hexdigest()


COLUMNS = ("seq", "at", "kind", "actor", "subject", "detail", "prev_hash", "hash")


class AuditSqliteTest(RepoTestCase):
    """The default store: .shipshape/state.db, tampered with through Python's sqlite3."""

    def setUp(self):
        super().setUp()
        self.prepare_store()
        self.write("checklists/deploy.toml", """
            name = "deploy"
            [[step]]
            id = "build"
            sh = "echo built"
            [[step]]
            id = "approve"
            manual = "QA confirms"
            role = "qa"
            needs = ["build"]
            """)
        self.write("checklists/quick.toml",
                   'name = "quick"\n[[step]]\nid = "hello"\nsh = "echo hello"\n')
        r = self.shipshape("run", "checklists/quick.toml")
        self.assertEqual(r.code, 0, r)
        self.first_run_out = r.out
        r = self.shipshape("run", "checklists/deploy.toml")
        self.assertEqual(r.code, 4, r)
        self.waiting = r.out.split("run ")[1].split()[0]
        r = self.shipshape("check-off", self.waiting, "approve", "--as", "qa", "--by", "carol",
                           "--note", "looks right")
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("--json", "resume", self.waiting)
        self.assertEqual(r.code, 0, r)
        self.resumed = r.json_lines()[-1]

    # --- the store, as each backend reaches it ---
    def prepare_store(self):
        pass

    def sql(self, *statements):
        db = sqlite3.connect(os.path.join(self.repo, ".shipshape", "state.db"))
        try:
            with db:
                for s in statements:
                    db.execute(s) if isinstance(s, str) else db.execute(*s)
        finally:
            db.close()

    def rows(self):
        db = sqlite3.connect(os.path.join(self.repo, ".shipshape", "state.db"))
        try:
            return [dict(zip(COLUMNS, r)) for r in
                    db.execute("SELECT " + ", ".join(COLUMNS) + " FROM audit ORDER BY seq")]
        finally:
            db.close()

    def verify(self, *extra):
        return self.shipshape("audit", "verify", *extra)

    def assert_broken(self, message, seq):
        r = self.verify()
        self.assertEqual(r.code, 1, r)
        self.assertTrue(r.out.startswith("audit chain broken: " + message + "\n"), r)
        r = self.shipshape("--json", "audit", "verify")
        self.assertEqual(r.code, 1, r)
        self.assertEqual(r.json()["problem"], {"seq": seq, "message": message})
        self.assertFalse(r.json()["intact"])

    # --- the tests ---
    def test_runs_and_check_offs_form_a_chain_the_spec_recomputes(self):
        rows = self.rows()
        kinds = [e["kind"] for e in rows]
        self.assertEqual(kinds[:3], ["run-started", "step", "run-ended"])
        self.assertIn("check-off", kinds)
        off = rows[kinds.index("check-off")]
        self.assertEqual((off["actor"], off["subject"]), ("carol", self.waiting + "/approve"))
        self.assertEqual(json.loads(off["detail"]),
                         {"role": "qa", "by": "carol", "note": "looks right"})
        prev = GENESIS
        for i, e in enumerate(rows):
            self.assertEqual(e["seq"], i + 1)
            self.assertEqual(e["prev_hash"], prev)
            self.assertEqual(e["hash"], entry_hash(e), e)
            prev = e["hash"]
        r = self.verify()
        self.assertEqual((r.code, r.out),
                         (0, f"audit chain intact: {len(rows)} entries, head #{len(rows)} "
                             f"{prev}\n"), r)
        # The head is printed after runs (text and --json), and resume names the newest one.
        m = re.search(r"^  audit: #(\d+) ([0-9a-f]{8})\u2026$", self.first_run_out, re.M)
        self.assertIsNotNone(m, self.first_run_out)
        self.assertEqual((int(m.group(1)), m.group(2)), (3, rows[2]["hash"][:8]))
        self.assertEqual(self.resumed["audit_head"], {"seq": len(rows), "hash": prev})
        # The log: a table, newest last; --since SEQ and --limit; --json has every field.
        r = self.shipshape("audit", "log")
        self.assertEqual(r.code, 0, r)
        self.assertTrue(r.out.startswith("SEQ "), r)
        self.assertEqual(len(r.out.splitlines()), len(rows) + 1)
        self.assertIn("check-off", r.out)
        r = self.shipshape("--json", "audit", "log", "--since", "2", "--limit", "2")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["entries"], rows[-2:])
        r = self.shipshape("audit", "log", "--since", "1h")
        self.assertEqual(len(r.out.splitlines()), len(rows) + 1, r)
        r = self.shipshape("audit", "log", "--since", "soon")
        self.assertEqual(r.code, 2, r)

    def test_each_kind_of_tampering_names_the_first_bad_entry(self):
        self.assertEqual(self.verify().code, 0)
        n = len(self.rows())
        self.assertGreaterEqual(n, 7)
        self.sql("CREATE TABLE audit_saved AS SELECT * FROM audit")
        restore = ("DELETE FROM audit", "INSERT INTO audit SELECT * FROM audit_saved")

        # 1. One field of a row edited.
        self.sql("UPDATE audit SET detail = '{\"status\":\"failed\"}' WHERE seq = 3")
        self.assert_broken("entry 3: its hash does not match its content (edited?)", 3)
        self.sql(*restore)
        self.assertEqual(self.verify().code, 0)

        # 2. A row deleted.
        self.sql("DELETE FROM audit WHERE seq = 5")
        self.assert_broken("entry 5 missing: after 4 comes 6 (deleted?)", 5)
        self.sql(*restore)

        # 3. Two rows swapped (their contents change places; seq stays in order).
        self.sql("UPDATE audit SET seq = -5 WHERE seq = 5",
                 "UPDATE audit SET seq = 5 WHERE seq = 6",
                 "UPDATE audit SET seq = 6 WHERE seq = -5")
        self.assert_broken("entry 5: prev_hash is not entry 4's hash (reordered or inserted?)", 5)
        self.sql(*restore)

        # 4. A forged row with a self-consistent hash slipped in as entry 5 (the rest renumbered).
        rows = self.rows()
        forged = {"seq": 5, "at": rows[4]["at"], "kind": "check-off", "actor": "mallory",
                  "subject": self.waiting + "/approve",
                  "detail": '{"role":"qa","by":"mallory","note":""}',
                  "prev_hash": rows[3]["hash"]}
        forged["hash"] = entry_hash(forged)
        self.sql("UPDATE audit SET seq = seq + 1000000 WHERE seq >= 5",
                 "UPDATE audit SET seq = seq - 999999 WHERE seq >= 1000000",
                 ("INSERT INTO audit(seq, at, kind, actor, subject, detail, prev_hash, hash) "
                  "VALUES(" + ", ".join(self.placeholders(8)) + ")",
                  [forged[c] for c in COLUMNS]))
        self.assert_broken("entry 5: entry 6 links past it to entry 4 (inserted?)", 5)
        self.sql(*restore)
        r = self.verify()
        self.assertEqual(r.code, 0, r)
        self.assertIn(f"{n} entries", r.out)

    def placeholders(self, n):
        return ["?"] * n

    def test_an_export_verifies_without_a_store_and_names_a_bad_line(self):
        r = self.shipshape("audit", "export", "ledger.jsonl")
        self.assertEqual(r.code, 0, r)
        rows = self.rows()
        self.assertEqual(r.out, f"exported {len(rows)} audit entries to ledger.jsonl, head "
                                f"#{len(rows)} {rows[-1]['hash']}\n")
        path = os.path.join(self.repo, "ledger.jsonl")
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual([json.loads(line) for line in lines], rows)
        self.assertEqual(list(json.loads(lines[0]).keys()), list(COLUMNS))
        # No store at all: another directory, no ops repo.
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(elsewhere)
        os.rename(path, os.path.join(elsewhere, "ledger.jsonl"))
        r = self.shipshape("audit", "verify", "--file", "ledger.jsonl", cwd=elsewhere)
        self.assertEqual(r.code, 0, r)
        self.assertTrue(r.out.startswith(f"audit chain intact: {len(rows)} entries"), r)

        def tampered(new_lines):
            with open(os.path.join(elsewhere, "bad.jsonl"), "w") as f:
                f.write("".join(line + "\n" for line in new_lines))
            return self.shipshape("audit", "verify", "--file", "bad.jsonl", cwd=elsewhere)

        edited = list(lines)
        entry = json.loads(edited[2])
        entry["actor"] = "mallory"
        edited[2] = json.dumps(entry, separators=(",", ":"))
        r = tampered(edited)
        self.assertEqual(r.code, 1, r)
        self.assertTrue(r.out.startswith(
            "audit chain broken: bad.jsonl:3: entry 3: its hash does not match its content "
            "(edited?)\n"), r)
        r = tampered(lines[:4] + lines[5:])
        self.assertEqual(r.code, 1, r)
        self.assertIn("bad.jsonl:5: entry 5 missing: after 4 comes 6 (deleted?)", r.out)
        r = tampered(lines[:-1] + [lines[-1][:40]])
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"bad.jsonl:{len(lines)}: not an audit entry: not JSON (truncated?)", r.out)
        r = tampered(lines[:1] + ['{"seq":"2"}'])
        self.assertIn("bad.jsonl:2: not an audit entry: field 'seq' must be an integer", r.out)
        r = self.shipshape("--json", "audit", "verify", "--file", "bad.jsonl", cwd=elsewhere)
        self.assertEqual(r.code, 1, r)
        self.assertEqual(r.json()["problem"]["where"], "bad.jsonl:2")
        r = self.shipshape("audit", "verify", "--file", "missing.jsonl", cwd=elsewhere)
        self.assertEqual(r.code, 2, r)
        self.assertIn("missing.jsonl", r.err)


class AuditPostgresTest(AuditSqliteTest):
    """The same on a PostgreSQL store, tampered with through psql."""
    server = None
    unavailable = None
    databases = 0

    @classmethod
    def setUpClass(cls):
        cls.server, cls.unavailable = start_for_tests("shipshape-e2e-pgaudit-")

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()

    def prepare_store(self):
        require(self, self.server is not None, f"a test PostgreSQL server: {self.unavailable}")
        AuditPostgresTest.databases += 1
        self.uri = self.server.createdb(f"audit{AuditPostgresTest.databases}_{os.getpid()}")
        self.env["SHIPSHAPE_STORE"] = self.uri
        r = self.shipshape("store", "migrate")
        self.assertEqual(r.code, 0, r)
        # A shared store authenticates people: carol checks off with her token.
        r = self.shipshape("user", "add", "carol", "--roles", "qa")
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("user", "token", "carol")
        self.assertEqual(r.code, 0, r)
        self.env["SHIPSHAPE_TOKEN"] = r.out.strip()

    def psql(self, script, *args):
        r = subprocess.run([os.path.join(bindir(), "psql"), self.uri, "-X", "-q",
                            "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", *args, "-c", script],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def sql(self, *statements):
        script = []
        for s in statements:
            if isinstance(s, str):
                script.append(s)
            else:
                sql, values = s
                for v in values:
                    literal = str(v) if isinstance(v, int) else "'" + v.replace("'", "''") + "'"
                    sql = sql.replace("?", literal, 1)
                script.append(sql)
        self.psql("BEGIN; " + "; ".join(script) + "; COMMIT")

    def rows(self):
        out = self.psql("SELECT " + ", ".join(COLUMNS) + " FROM audit ORDER BY seq")
        rows = []
        for line in out.splitlines():
            values = line.split("\t")
            e = dict(zip(COLUMNS, values))
            e["seq"], e["at"] = int(e["seq"]), int(e["at"])
            rows.append(e)
        return rows
