"""Secrets never print: the value of an environment variable that shipshape.toml names in
`secrets` appears in no output of any command (text and --json), in no step log and in no
text column of the journal, and "***" stands where it would have been. Each path is one test:
plan and drift content diffs, [[command]] output during apply, a step whose command or working
directory names the secret (terminal, JSON events, logs, resume, undo, show, runs), and a
secret a step writes across two writes of a 70 KB line."""
import json
import os
import sqlite3
import subprocess
import textwrap
import unittest

from harness import BIN, FleetTestCase, RepoTestCase, Result

SECRET = "Zq7-s3cr3t-V4lue-14"
# A value JSON escapes: a remote host's --json answer holds it as "Q\\"t-s3cr3t\\\\14".
QUOTED_SECRET = 'Q"t-s3cr3t\\14'

# Params given with --set are stored as given, so that a resumed run renders with them (the
# manual says so and tells people to pass secrets through the environment): these columns
# may hold the value when a test passes it with --set on purpose. Every other text column of
# every table is searched.
AS_GIVEN = {("run_params", "value"), ("applied_params", "value")}


class SecretsTestCase(RepoTestCase):
    def setUp(self):
        super().setUp()
        self.write("shipshape.toml", textwrap.dedent("""\
            name = "test"
            secrets = ["SHIPSHAPE_TEST_SECRET"]
            [roles]
            web = ["states/web.toml"]
            """))
        self.write("inventory.toml", textwrap.dedent("""\
            [env.local]
            hosts = ["localhost"]
            [group.web]
            hosts = ["localhost"]
            roles = ["web"]
            """))
        self.env["SHIPSHAPE_TEST_SECRET"] = SECRET
        self.write("states/web.toml", "")
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(self.root, "etc"))

    def assert_hidden(self, result, masked=True):
        """The secret is nowhere in the command's output; "***" is, where it would have been."""
        both = result.out + result.err
        at = both.find(SECRET)
        self.assertEqual(at, -1, f"the secret in the output: ...{both[max(at - 200, 0):at + 100]}"
                                 f"... (exit {result.code})")
        if masked:
            self.assertIn("***", both, both[-2000:])

    def assert_records_hidden(self, skip=()):
        """No file under .shipshape but the journal holds the value, and no text column of
        the journal (read with SQLite itself, WAL included) does, except the `skip` ones."""
        state_dir = os.path.join(self.repo, ".shipshape")
        for dirpath, _, files in os.walk(state_dir):
            for name in files:
                if name.startswith("state.db"):
                    continue  # read through SQLite below: pages may hold freed text
                with open(os.path.join(dirpath, name), "rb") as f:
                    self.assertNotIn(SECRET.encode(), f.read(), os.path.join(dirpath, name))
        db = sqlite3.connect(os.path.join(state_dir, "state.db"))
        try:
            tables = [row[0] for row in
                      db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            self.assertIn("events", tables)
            for table in tables:
                columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
                for column in columns:
                    if (table, column) in skip:
                        continue
                    for (value,) in db.execute(f"SELECT {column} FROM {table}"):
                        if isinstance(value, bytes):
                            value = value.decode(errors="replace")
                        self.assertNotIn(SECRET, str(value), f"{table}.{column}")
        finally:
            db.close()


class StateSecretsTest(SecretsTestCase):
    def setUp(self):
        super().setUp()
        self.write("files/app.conf", f"user = booking\npassword = {SECRET}\n")
        self.write("states/web.toml", textwrap.dedent("""\
            [[file]]
            path = "/etc/app.conf"
            source = "files/app.conf"
            """))

    def state(self, *args):
        return self.shipshape(*args, "--root", self.root)

    def test_plan_and_drift_diffs_hide_a_secret_the_source_file_holds(self):
        r = self.state("plan")
        self.assertEqual(r.code, 0, r)
        self.assertIn("+password = ***", r.out)
        self.assert_hidden(r)
        r = self.state("--json", "plan")
        self.assertEqual(r.code, 0, r)
        self.assertIn("+password = ***", r.json()["hosts"][0]["changes"][0]["diff"])
        self.assert_hidden(r)
        for args in (["drift"], ["--json", "drift"], ["drift", "--save"]):
            r = self.state(*args)
            self.assertEqual(r.code, 1, r)
            self.assert_hidden(r)
        # The file itself holds the real value: redaction is of output, never of what is applied.
        r = self.state("apply")
        self.assertEqual(r.code, 0, r)
        self.assert_hidden(r, masked=False)
        with open(os.path.join(self.root, "etc/app.conf")) as f:
            self.assertIn(SECRET, f.read())
        # A hand edit shows in drift's diff on both sides, hidden on both.
        with open(os.path.join(self.root, "etc/app.conf"), "w") as f:
            f.write(f"user = booking\npassword = {SECRET}-old\n")
        for args in (["drift"], ["--json", "drift"], ["drift", "--save"], ["plan"]):
            r = self.state(*args)
            self.assertEqual(r.code, 1 if "drift" in args else 0, r)
            self.assert_hidden(r)
            self.assertNotIn("-old", r.out.replace("***-old", ""), r)
        self.assert_records_hidden()

    def test_command_output_during_apply_is_hidden(self):
        self.write("states/web.toml", textwrap.dedent("""\
            [[command]]
            run = ["sh", "-c", "echo connecting with $SHIPSHAPE_TEST_SECRET; echo token=$SHIPSHAPE_TEST_SECRET >&2; exit 3"]
            unless = ["false"]
            """))
        r = self.state("apply")
        self.assertEqual(r.code, 1, r)
        self.assertIn("connecting with ***", r.out)
        self.assert_hidden(r)
        r = self.state("--json", "apply")
        self.assertEqual(r.code, 1, r)
        change = r.json()["hosts"][0]["changes"][0]
        self.assertIn("token=***", change["output"])
        self.assert_hidden(r)
        self.assert_records_hidden()


class RunSecretsTest(SecretsTestCase):
    def test_a_command_or_directory_naming_the_secret_is_hidden_everywhere(self):
        # A command that cannot start, a directory that does not exist: shipshape names them in
        # the step's detail (terminal, JSON events, journal, show) and its log. The secret comes
        # with --set here (stored as given, see AS_GIVEN); the engine never prints it.
        self.write("checklists/s.toml", """
            [params.dir]
            [[step]]
            id = "echo"
            sh = "echo password=$SHIPSHAPE_TEST_SECRET"
            undo = ["/nonexistent/{{dir}}/undo"]
            [[step]]
            id = "tool"
            needs = ["echo"]
            run = ["/nonexistent/{{dir}}/tool"]
            [[step]]
            id = "cwd"
            needs = ["echo"]
            cwd = "/nonexistent/{{dir}}"
            run = ["true"]
            """)
        r = self.shipshape("run", "checklists/s.toml", "--set", f"dir={SECRET}")
        self.assertEqual(r.code, 1, r)
        self.assertIn("password=***", r.out)
        self.assert_hidden(r)
        run_id = r.out.split("run ")[1].split()[0]
        for args in (["--json", "resume", run_id], ["resume", run_id]):
            r = self.shipshape(*args)
            self.assertEqual(r.code, 1, r)
            self.assert_hidden(r)
        r = self.shipshape("--json", "run", "checklists/s.toml", "--set", f"dir={SECRET}")
        self.assertEqual(r.code, 1, r)
        self.assert_hidden(r)
        finished = [e for e in r.json_lines() if e.get("event") == "step-finished"]
        self.assertTrue(any("***" in e.get("detail", "") for e in finished), finished)
        for args in (["show", run_id], ["--json", "show", run_id], ["runs"], ["--json", "runs"]):
            r = self.shipshape(*args)
            self.assertEqual(r.code, 0, r)
            self.assert_hidden(r, masked=args[-1] != "runs")
        r = self.shipshape("undo", run_id)
        self.assertEqual(r.code, 1, r)
        self.assert_hidden(r)
        r = self.shipshape("--json", "undo", run_id)
        self.assert_hidden(r)
        logs = os.path.join(self.repo, ".shipshape", "runs", run_id)
        for step in ("tool", "cwd", "echo"):
            with open(os.path.join(logs, step + ".log")) as f:
                self.assertIn("***", f.read(), step)
        self.assert_records_hidden(skip=AS_GIVEN)

    def test_run_plan_hides_a_secret_in_a_rendered_command(self):
        self.write("checklists/s.toml", """
            [params.dir]
            [[step]]
            id = "tool"
            run = ["/opt/{{dir}}/tool"]
            [[step]]
            id = "guarded"
            run = ["true"]
            unless = ["test", "-e", "/nonexistent/{{dir}}"]
            """)
        for args in (["run", "--plan"], ["--json", "run", "--plan"]):
            r = self.shipshape(*args, "checklists/s.toml", "--set", f"dir={SECRET}")
            self.assertEqual(r.code, 0, r)
            self.assertIn("/opt/***/tool", r.out)
            self.assert_hidden(r)

    def test_exec_output_is_hidden(self):
        for args in (["exec", "localhost"], ["--json", "exec", "localhost"]):
            r = self.shipshape(*args, "--sh", "echo pw=$SHIPSHAPE_TEST_SECRET")
            self.assertEqual(r.code, 0, r)
            self.assertIn("pw=***", r.out)
            self.assert_hidden(r)

    def test_a_secret_written_across_two_writes_of_a_long_line_is_hidden(self):
        # The first write ends inside the secret and is longer than a line may grow (64 KiB)
        # before it is handed on; the rest follows after a pause, so the two arrive apart.
        cut = 8
        self.write("split.py", textwrap.dedent(f"""\
            import os, time
            s = os.environ["SHIPSHAPE_TEST_SECRET"].encode()
            os.write(1, b"x" * 66000 + s[:{cut}])
            time.sleep(0.5)
            os.write(1, s[{cut}:] + b"y" * 4000 + b"\\n")
            """))
        self.write("checklists/s.toml", """
            [[step]]
            id = "long"
            run = ["python3", "split.py"]
            """)
        for args in (["run", "checklists/s.toml"], ["--json", "run", "checklists/s.toml"]):
            r = self.shipshape(*args)
            self.assertEqual(r.code, 0, r.err)
            self.assertFalse("x" + SECRET[:cut] in r.out, "the secret's first part was shown")
            self.assertFalse(SECRET[cut:] + "y" in r.out, "the secret's second part was shown")
            self.assertTrue("***yyy" in r.out, "no *** where the secret was")
            self.assert_hidden(r)
        for dirpath, _, files in os.walk(os.path.join(self.repo, ".shipshape", "runs")):
            for name in files:
                with open(os.path.join(dirpath, name)) as f:
                    text = f.read()
                self.assertFalse("x" + SECRET[:cut] in text, name)
                self.assertFalse(SECRET[cut:] + "y" in text, name)
        self.assert_records_hidden()

    def test_a_very_short_secret_is_redacted_with_a_warning(self):
        # Hiding every "ab" hides much more than the secret, but never leaks it: shipshape
        # redacts and says why the output looks so.
        self.env["SHIPSHAPE_TEST_SECRET"] = "ab"
        self.write("checklists/s.toml", """
            [[step]]
            id = "short"
            sh = "echo x-$SHIPSHAPE_TEST_SECRET-y cab"
            """)
        r = self.shipshape("run", "checklists/s.toml")
        self.assertEqual(r.code, 0, r)
        self.assertIn("x-***-y c***", r.out)
        self.assertIn("warning: secret SHIPSHAPE_TEST_SECRET holds fewer than 4 characters", r.err)


class RemoteSecretsTest(FleetTestCase):
    """A remote host's agent knows nothing of the controller's secrets (ssh passes no
    environment): its plan, drift and apply output is redacted by the controller, text and
    JSON alike, and so is the drift --save report it sends."""
    fleet_size = 1
    ROOT = "/srv/secrets"

    def setUp(self):
        super().setUp()
        names = [h["name"] for h in self.fleet.hosts]
        self.write("inventory.toml", self.fleet.inventory_toml(
            env="prod", groups={"web": {"hosts": names, "roles": ["app"]}}))
        self.write("shipshape.toml", textwrap.dedent("""\
            name = "secrets-test"
            secrets = ["SHIPSHAPE_TEST_SECRET", "SHIPSHAPE_TEST_QUOTED"]
            [roles]
            app = ["states/app.toml"]
            """))
        self.write("files/app.conf", f"password = {SECRET}\ntoken = {QUOTED_SECRET}\n")
        self.write("states/app.toml", textwrap.dedent(f"""\
            [[file]]
            path = "/etc/app.conf"
            source = "files/app.conf"

            [[command]]
            run = ["sh", "-c", "cat {self.ROOT}/etc/app.conf; exit 3"]
            unless = ["false"]
            """))
        self.env["SHIPSHAPE_TEST_SECRET"] = SECRET
        self.env["SHIPSHAPE_TEST_QUOTED"] = QUOTED_SECRET
        for h in self.fleet.hosts:
            r = self.fleet.ssh(h["index"], f"rm -rf {self.ROOT} && mkdir -p {self.ROOT}/etc")
            self.assertEqual(r.returncode, 0, r.stderr)

    def ss(self, *args, timeout=120):
        r = subprocess.run(self.fleet.cmd([BIN, *args, "--root", self.ROOT]), cwd=self.repo,
                           capture_output=True, text=True, timeout=timeout, env=self.env,
                           stdin=subprocess.DEVNULL)
        return Result(r)

    def assert_hidden(self, result):
        both = result.out + result.err
        for value in (SECRET, QUOTED_SECRET, json.dumps(QUOTED_SECRET)[1:-1]):
            at = both.find(value)
            self.assertEqual(at, -1, f"{value!r} in: ...{both[max(at - 200, 0):at + 100]}...")
        self.assertIn("***", both)

    def test_remote_plan_drift_and_apply_are_redacted_by_the_controller(self):
        r = self.ss("plan", "env:prod")
        self.assertEqual(r.code, 0, r)
        self.assertIn("+password = ***", r.out)
        self.assertIn("+token = ***", r.out)
        self.assert_hidden(r)
        r = self.ss("--json", "plan", "env:prod")
        self.assertEqual(r.code, 0, r)
        self.assert_hidden(r)
        diff = r.json()["hosts"][0]["changes"][0]["diff"]
        self.assertIn("+token = ***", diff)
        for args in (["apply", "env:prod"], ["--json", "apply", "env:prod"]):
            r = self.ss(*args)
            self.assertEqual(r.code, 1, r)  # the command fails, printing the file
            self.assert_hidden(r)
        self.fleet.ssh(1, f"echo old > {self.ROOT}/etc/app.conf")
        for args in (["drift", "env:prod"], ["--json", "drift", "env:prod"],
                     ["drift", "env:prod", "--save"]):
            r = self.ss(*args)
            self.assertEqual(r.code, 1, r)
            self.assert_hidden(r)
        with sqlite3.connect(os.path.join(self.repo, ".shipshape", "state.db")) as db:
            for (doc,) in db.execute("SELECT document FROM host_states"):
                self.assertNotIn(SECRET, doc)


if __name__ == "__main__":
    unittest.main()
