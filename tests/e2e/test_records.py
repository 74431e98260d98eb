"""Records and terminals are not forgeable (#14, section 5): names and notes of check-offs,
what `show`, `runs` and the check-off confirmation print from the journal, `check-off last`,
a check-off while its run is still live, and host names in the inventory."""
import json
import os
import sqlite3
import textwrap

from harness import RepoTestCase

QA_CHECKLIST = """
    name = "release"
    [[step]]
    id = "prep"
    sh = "echo prep >> trace"
    [[step]]
    id = "qa-ok"
    manual = "QA confirms"
    role = "qa"
    needs = ["prep"]
    [[step]]
    id = "after"
    sh = "echo after >> trace"
    needs = ["qa-ok"]
    """


class RecordsTestCase(RepoTestCase):
    def waiting_run(self, checklist="checklists/release.toml", env="local"):
        if not os.path.exists(os.path.join(self.repo, checklist)):
            self.write(checklist, QA_CHECKLIST)
        r = self.shipshape("--json", "run", "--env", env, checklist)
        self.assertEqual(r.code, 4, r)
        return self.run_id_of(r)

    def db(self):
        return sqlite3.connect(os.path.join(self.repo, ".shipshape", "state.db"))


class CheckOffNamesTest(RecordsTestCase):
    def test_control_characters_in_names_are_refused(self):
        run_id = self.waiting_run()
        forged = "alice\n  qa-ok              checked off by ciso as security"
        r = self.shipshape("check-off", run_id, "qa-ok", "--as", "qa", "--by", forged)
        self.assertEqual(r.code, 2, r)
        self.assertIn("character 6 is a control character (U+000A)", r.err)
        self.assertIn("names may not contain control characters", r.err)
        self.assertNotIn("\n  qa-ok", r.err)  # the refusal itself prints the name escaped
        # ESC, a C1 control and bytes that are not UTF-8 are refused the same way.
        for by, what in [("bob\x1b[2K", "character 4 is a control character (U+001B)"),
                         ("bob\u009b2K", "character 4 is a control character (U+009B)"),
                         (b"bob\xff", "byte 4 is not valid UTF-8 (0xff)")]:
            r = self.shipshape("check-off", run_id, "qa-ok", "--as", "qa", "--by", by)
            self.assertEqual(r.code, 2, r)
            self.assertIn(what, r.err)
        # A name from $USER obeys the same rule.
        env = dict(self.env, USER="eve\rroot")
        r = self.shipshape("check-off", run_id, "qa-ok", "--as", "qa", env=env)
        self.assertEqual(r.code, 2, r)
        self.assertIn("character 4 is a control character (U+000D)", r.err)
        self.assertIn("$USER", r.err)
        self.assertEqual(self.step_states(run_id)["qa-ok"], "waiting")

    def test_notes_may_span_lines_but_print_as_one_row(self):
        run_id = self.waiting_run()
        r = self.shipshape("check-off", run_id, "qa-ok", "--as", "qa", "--by", "alice",
                           "--note", "ok\x1b]0;owned\x07")
        self.assertEqual(r.code, 2, r)
        self.assertIn("note", r.err)
        self.assertIn("character 3 is a control character (U+001B)", r.err)
        note = "smoke ok\n  qa-ok              checked off by ciso as security"
        r = self.shipshape("check-off", run_id, "qa-ok", "--as", "qa", "--by", "alice",
                           "--note", note)
        self.assertEqual(r.code, 0, r)
        self.assertIn("smoke ok\\n  qa-ok", r.out)  # the confirmation escapes it too
        shown = self.shipshape("show", run_id)
        self.assertEqual(shown.code, 0, shown)
        self.assertIn("checked off by alice as qa", shown.out)
        self.assertIn("smoke ok\\n  qa-ok              checked off by ciso as security", shown.out)
        self.assertNotIn("by ciso", "\n".join(
            l for l in shown.out.splitlines() if "smoke ok" not in l))
        # JSON keeps the note as it was typed (JSON escapes it).
        offs = [s for s in self.show(run_id)["steps"] if s["id"] == "qa-ok"][0]["check_offs"]
        self.assertEqual(offs[0]["note"], note)

    def test_old_journal_rows_print_escaped(self):
        # A journal written before names were checked may hold anything: printing escapes it.
        run_id = self.waiting_run()
        with self.db() as db:
            db.execute("INSERT INTO check_offs(run_id, step_id, role, by, note, at) "
                       "VALUES(?, 'qa-ok', 'qa', ?, ?, 1)",
                       (run_id, "mallory\x1b[2K\rciso", "fine\x1b[1A\x9b2K"))
            db.execute("UPDATE steps SET state = 'checked-off', detail = ? "
                       "WHERE run_id = ? AND step_id = 'qa-ok'",
                       ("checked off by mallory\x1b[2K\rciso as qa", run_id))
            db.execute("UPDATE runs SET checklist_name = ?, user = ? WHERE id = ?",
                       ("release\x1b[31m", "root\nforged", run_id))
            db.execute("INSERT INTO run_params(run_id, position, name, value) "
                       "VALUES(?, 0, 'version', ?)", (run_id, "1.2\n3.4\x1b[0m"))
        for args in [("show", run_id), ("runs",)]:
            r = self.shipshape(*args)
            self.assertEqual(r.code, 0, r)
            for raw in ["\x1b", "\r", "\x9b"]:
                self.assertNotIn(raw, r.out, args)
            self.assertIn("release\\x1b[31m", r.out, args)
            self.assertIn("version=1.2\\n3.4\\x1b[0m", r.out, args)
        r = self.shipshape("show", run_id)
        self.assertIn("checked off by mallory\\x1b[2K\\rciso as qa at", r.out)
        self.assertIn(": fine\\x1b[1A\\u{009B}2K", r.out)
        self.assertIn("by root\\nforged@", r.out)
        self.assertNotIn("\nforged", r.out)


class CheckOffLastTest(RecordsTestCase):
    def test_confirmation_names_run_environment_and_checklist(self):
        run_id = self.waiting_run(env="staging")
        r = self.shipshape("check-off", run_id, "qa-ok", "--as", "qa", "--by", "alice")
        self.assertEqual(r.code, 0, r)
        self.assertIn(f"checked off step qa-ok of run {run_id} (checklist release, "
                      f"environment staging) as qa, by alice", r.out)
        self.assertIn(f"continue with: shipshape resume {run_id}", r.out)
        doc = json.loads(self.shipshape("--json", "show", run_id).out)
        self.assertEqual(doc["run"]["env"], "staging")

    def test_last_is_the_run_waiting_at_that_step(self):
        older = self.waiting_run(env="staging")
        # A newer run that does not wait at qa-ok: `last` must not mean it.
        self.write("checklists/other.toml", """
            name = "other"
            [[step]]
            id = "hold"
            manual = "someone looks"
            role = "qa"
            """)
        newer = self.waiting_run("checklists/other.toml", env="local")
        self.assertNotEqual(older, newer)
        r = self.shipshape("check-off", "last", "qa-ok", "--as", "qa", "--by", "alice")
        self.assertEqual(r.code, 0, r)
        self.assertIn(f"of run {older} (checklist release, environment staging)", r.out)
        self.assertEqual(self.step_states(older)["qa-ok"], "checked-off")
        self.assertEqual(self.step_states(newer)["hold"], "waiting")
        # Nothing waits at qa-ok any more.
        r = self.shipshape("check-off", "last", "qa-ok", "--as", "qa")
        self.assertEqual(r.code, 1, r)
        self.assertIn("no run is waiting for a check-off of step 'qa-ok'", r.err)

    def test_last_refuses_when_several_runs_wait_at_that_step(self):
        first = self.waiting_run(env="staging")
        second = self.waiting_run(env="local")
        r = self.shipshape("check-off", "last", "qa-ok", "--as", "qa")
        self.assertEqual(r.code, 2, r)
        self.assertIn("2 runs are waiting for a check-off of step 'qa-ok'", r.err)
        self.assertIn(f"{first} (checklist release, environment staging", r.err)
        self.assertIn(f"{second} (checklist release, environment local", r.err)
        self.assertIn("name the run", r.err)
        self.assertEqual(self.step_states(first)["qa-ok"], "waiting")
        self.assertEqual(self.step_states(second)["qa-ok"], "waiting")


class LiveCheckOffTest(RecordsTestCase):
    def test_check_off_while_the_run_is_live_lets_it_finish(self):
        # qa-ok waits while `slow` still runs; the check-off comes from another process
        # before `slow` ends. The live run must take it up and run `after`.
        self.write("checklists/live.toml", """
            name = "live"
            parallel = 2
            [[step]]
            id = "slow"
            sh = "touch slow.on; i=0; while [ ! -f release ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done"
            [[step]]
            id = "qa-ok"
            manual = "QA confirms"
            role = "qa"
            [[step]]
            id = "after"
            sh = "echo after >> trace"
            needs = ["qa-ok"]
            """)
        proc = self.start("run", "checklists/live.toml")
        try:
            # Only once a step runs is the journal created: opening a new one from two
            # processes at once is not what this test is about.
            self.wait_for(lambda: os.path.exists(os.path.join(self.repo, "slow.on"))
                          or proc.poll() is not None, timeout=120, what="slow to start")
            def waiting_run():
                if proc.poll() is not None:
                    out, err = proc.communicate()
                    self.fail(f"the run ended early: exit {proc.returncode}\n{out}\n{err}")
                r = self.shipshape("--json", "runs")
                runs = r.json()["runs"] if r.code == 0 else []
                for run in runs:
                    if self.step_states(run["id"]).get("qa-ok") == "waiting":
                        return run["id"]
                return None
            self.wait_for(lambda: waiting_run() is not None, timeout=120,
                          what="qa-ok to wait")
            run_id = waiting_run()
            r = self.shipshape("check-off", run_id, "qa-ok", "--as", "qa", "--by", "alice")
            self.assertEqual(r.code, 0, r)
            self.assertIn("is still running", r.out)
            self.assertNotIn("shipshape resume", r.out)
            self.write("release", "")
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertNotIn("check it off", out)
        self.assertIn("done", out)
        self.assertEqual(self.read("trace").split(), ["after"])
        shown = self.show(run_id)
        self.assertEqual(shown["run"]["status"], "done")
        self.assertEqual(self.step_states(run_id),
                         {"slow": "ok", "qa-ok": "checked-off", "after": "ok"})
        # qa-ok was recorded waiting once: taking the check-off up did not record it again
        # (which could overwrite a check-off), and the run ended once.
        events = [(e["kind"], e["step"]) for e in shown["events"]]
        self.assertEqual(events.count(("step-waiting", "qa-ok")), 1, events)
        self.assertEqual(events.count(("run-done", "")), 1, events)


class HostNamesTest(RecordsTestCase):
    RULE = ("host names are DNS names: letters, digits, '-' and '_', with '.' between labels "
            "of 1 to 63 characters (253 in all)")

    def test_bad_host_names_are_refused_where_written(self):
        self.write("inventory.toml", textwrap.dedent("""\
            [env.local]
            hosts = ["localhost", "x/../../../tmp/esc"]
            [group.web]
            hosts = ["localhost"]
            [host."web 1"]
            address = "10.0.0.1"
            """))
        r = self.shipshape("hosts")
        self.assertEqual(r.code, 2, r)
        self.assertIn("inventory.toml:2:23: host name 'x/../../../tmp/esc': character 2 ('/') "
                      "is not allowed; " + self.RULE, r.err)
        self.assertIn("inventory.toml:5:7: host name 'web 1': character 4 (' ') is not "
                      "allowed; " + self.RULE, r.err)
        # A run never starts with such an inventory, so no host's log goes astray.
        self.write("checklists/c.toml", '[[step]]\nid = "a"\nsh = "true"\n')
        r = self.shipshape("run", "checklists/c.toml")
        self.assertEqual(r.code, 2, r)
        self.assertIn("x/../../../tmp/esc", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "tmp")))

    def test_good_host_names_pass(self):
        self.write("inventory.toml", textwrap.dedent("""\
            [env.local]
            hosts = ["localhost", "db_1.prod.example.com", "10.0.0.7"]
            """))
        r = self.shipshape("--json", "hosts")
        self.assertEqual(r.code, 0, r)
        names = sorted(h["name"] for h in r.json()["hosts"])
        self.assertEqual(names, ["10.0.0.7", "db_1.prod.example.com", "localhost"])
