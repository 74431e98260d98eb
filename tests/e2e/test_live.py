"""The live side of #15, black-box: step output reaches the store as it is printed (the API's
step log and the server-sent event stream show a line while its step still runs), the event
stream resumes after Last-Event-ID without duplicates, and `run --wait` continues once another
process checks the waiting step off -- on SQLite (polling) and on PostgreSQL (LISTEN/NOTIFY,
the check-off from another working copy through the store). No timing assertions: a step waits
for a file the test creates after it saw what it waits for."""
import http.client
import json
import os
import shutil
import signal
import tempfile
import urllib.parse

from harness import RepoTestCase, require
from pgserver import start_for_tests

SECRET = "Zq7-live-s3cr3t-42"


class EventReader:
    """A GET /api/v1/events stream read with http.client: yields (id, kind, data)."""

    def __init__(self, host, port, path, headers=None, timeout=90):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()

    def events(self):
        fields = {}
        while True:
            raw = self.resp.fp.readline()
            if not raw:
                return
            line = raw.decode("utf-8").rstrip("\n")
            if line == "":
                if "event" in fields:
                    yield fields.get("id"), fields["event"], json.loads(fields["data"])
                fields = {}
            elif line.startswith(":"):
                continue  # a comment: the keepalive
            else:
                name, _, value = line.partition(": ")
                fields[name] = value

    def until(self, predicate):
        """Every event up to and including the first that satisfies `predicate`."""
        seen = []
        for event in self.events():
            seen.append(event)
            if predicate(event):
                return seen
        raise AssertionError(f"the stream ended before the event waited for; saw {seen}")

    def close(self):
        self.conn.close()


class LiveTestCase(RepoTestCase):
    def setUp(self):
        super().setUp()
        self.env["SHIPSHAPE_TEST_SECRET"] = SECRET
        self.write("checklists/talk.toml", """
            name = "talk"
            [[step]]
            id = "talk"
            sh = "echo first token=$SHIPSHAPE_TEST_SECRET; while [ ! -f release ]; do sleep 0.05; done; echo second"
            """)
        self.write("checklists/gate.toml", """
            name = "gate"
            [[step]]
            id = "build"
            sh = "echo built"
            [[step]]
            id = "qa"
            manual = "QA confirms"
            role = "qa"
            needs = ["build"]
            [[step]]
            id = "ship"
            sh = "echo shipped"
            needs = ["qa"]
            """)
        self.server = None

    def tearDown(self):
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            self.server.communicate(timeout=30)
        super().tearDown()

    def start_server(self, env=None):
        self.server = self.start("serve", "--listen", "127.0.0.1:0", env=env)
        line = self.server.stdout.readline()
        if not line.startswith("listening on http://127.0.0.1:"):
            self.server.kill()
            _, err = self.server.communicate(timeout=30)
            self.fail(f"first line {line!r}; stderr: {err}")
        url = urllib.parse.urlsplit(line.split()[-1])
        self.host, self.port = url.hostname, url.port

    def get_json(self, path):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def stream(self, path="/api/v1/events", headers=None):
        reader = EventReader(self.host, self.port, path, headers)
        self.addCleanup(reader.close)
        self.assertEqual(reader.resp.status, 200)
        self.assertEqual(reader.resp.getheader("Content-Type"), "text/event-stream")
        return reader

    def wait_line(self, proc, text):
        """Reads `proc`'s stdout until a line holds `text`; returns the lines read."""
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if text in line:
                return lines
        self.fail(f"{text!r} never printed; stdout {lines}, stderr {proc.stderr.read()}")


class LiveLogTest(LiveTestCase):
    def test_a_line_streams_and_is_in_the_log_while_its_step_runs(self):
        self.start_server()
        events = self.stream()
        run = self.start("run", "checklists/talk.toml")
        # The step prints its first line and then waits for the file: whatever shows the line
        # now shows it before the step ended.
        seen = events.until(lambda e: e[1] == "log" and e[2]["line"].startswith("first"))
        run_id = seen[-1][2]["run"]
        self.assertEqual(seen[-1][2], {"run": run_id, "step": "talk", "line": "first token=***"})
        kinds = [(k, d.get("status")) for _, k, d in seen]
        self.assertIn(("run", "running"), kinds)
        self.assertIn(("step", "running"), kinds)
        self.assertNotIn(SECRET, json.dumps([d for _, _, d in seen]))
        self.assertIsNone(run.poll())
        status, doc = self.get_json(f"/api/v1/runs/{run_id}/steps/talk/log")
        self.assertEqual(status, 200)
        self.assertIn("first token=***\n", doc["log"])
        self.assertNotIn("\nsecond\n", doc["log"])
        # Let the step end: the second line, the step's end and the run's end follow in order.
        with open(os.path.join(self.repo, "release"), "w"):
            pass
        rest = events.until(lambda e: e[1] == "run" and e[2]["status"] == "done")
        tail = [(k, d.get("line") or d.get("status")) for _, k, d in rest]
        self.assertLess(tail.index(("log", "second")), tail.index(("step", "ok")))
        self.assertEqual(tail[-1], ("run", "done"))
        self.assertEqual(rest[-1][2], {"run": run_id, "status": "done", "checklist": "talk",
                                       "env": "local"})
        out, err = run.communicate(timeout=60)
        self.assertEqual(run.returncode, 0, err)
        # The API and the CLI read the same log from the store.
        _, doc = self.get_json(f"/api/v1/runs/{run_id}/steps/talk/log")
        self.assertIn("first token=***\nsecond\n", doc["log"])
        r = self.shipshape("show", run_id, "--log", "talk")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out, doc["log"])
        # Cursors are ordered: each id is past the one before.
        ids = [tuple(int(x) for x in i.split("-")) for i, _, _ in seen + rest]
        self.assertEqual(ids, sorted(ids))

    def test_last_event_id_resumes_without_duplicates_and_run_filters(self):
        r = self.shipshape("run", "checklists/gate.toml")
        self.assertEqual(r.code, 4, r)
        first_id = r.out.split("run ")[1].split()[0]
        r = self.shipshape("check-off", first_id, "qa", "--as", "qa")
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("resume", first_id)
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("run", "checklists/gate.toml")
        other_id = r.out.split("run ")[1].split()[0]
        self.start_server()
        everything = self.stream("/api/v1/events?after=0-0").until(
            lambda e: e[2].get("run") == other_id and e[1] == "step" and e[2]["step"] == "qa")
        self.assertEqual(len({i for i, _, _ in everything}), len(everything))
        mine = [e for e in everything if e[2]["run"] == first_id]
        statuses = [(d.get("step"), d["status"]) for _, k, d in mine if k != "log"]
        for expected in [(None, "running"), ("qa", "waiting"), (None, "waiting"),
                         ("qa", "checked-off"), ("ship", "ok"), (None, "done")]:
            self.assertIn(expected, statuses)
        qa = [d for _, k, d in mine if k == "step" and d["step"] == "qa"]
        self.assertEqual(qa[0]["role"], "qa")
        self.assertIn({"run": first_id, "step": "build", "line": "built"},
                      [d for _, k, d in mine if k == "log"])
        # Resuming after the fourth event gives exactly the rest, in the same order.
        cut = everything[3][0]
        again = self.stream("/api/v1/events",
                            headers={"Last-Event-ID": cut}).until(lambda e: e == everything[-1])
        self.assertEqual(again, everything[4:])
        again = self.stream("/api/v1/events?after=" + cut).until(lambda e: e == everything[-1])
        self.assertEqual(again, everything[4:])
        # run= keeps to one run.
        one = self.stream(f"/api/v1/events?run={first_id}&after=0-0").until(
            lambda e: e[1] == "run" and e[2]["status"] == "done")
        self.assertEqual(one, mine[:len(one)])
        # Bad input is refused with a reason.
        for query, reason in [("after=7", "bad event cursor"), ("since=1", "unknown query"),
                              ("run=a&run=b", "given twice")]:
            status, doc = self.get_json("/api/v1/events?" + query)
            self.assertEqual(status, 400, query)
            self.assertIn(reason, doc["error"])

    def test_stopping_the_server_ends_open_streams(self):
        self.start_server()
        streams = [self.stream() for _ in range(3)]
        self.server.send_signal(signal.SIGTERM)
        _, err = self.server.communicate(timeout=60)
        self.assertEqual(self.server.returncode, 0, err)
        for s in streams:
            self.assertEqual(list(s.events()), [])  # ended, nothing half sent


class RunWaitTest(LiveTestCase):
    def test_run_wait_continues_after_a_check_off_from_another_process(self):
        run = self.start("run", "checklists/gate.toml", "--wait")
        printed = self.wait_line(run, "waiting for a check-off of")
        self.assertIn("waiting for a check-off of qa (role qa); holding the environment lock",
                      printed[-1])
        self.assertIsNone(run.poll())
        r = self.shipshape("check-off", "last", "qa", "--as", "qa", "--by", "alice")
        self.assertEqual(r.code, 0, r)
        out, err = run.communicate(timeout=60)
        self.assertEqual(run.returncode, 0, (out, err))
        run_id = "".join(printed).split("run ")[1].split()[0] if "run " in "".join(printed) \
            else self.shipshape("--json", "runs").json()["runs"][0]["id"]
        self.assertEqual(self.step_states(run_id),
                         {"build": "ok", "qa": "checked-off", "ship": "ok"})
        self.assertEqual(self.show(run_id)["run"]["status"], "done")
        # It said so once, and went on.
        self.assertNotIn("waiting for a check-off of", out)
        self.assertIn("ship", out)

    def test_ctrl_c_stops_waiting_and_the_run_stays_resumable(self):
        run = self.start("run", "checklists/gate.toml", "--wait")
        self.wait_line(run, "waiting for a check-off of")
        os.killpg(run.pid, signal.SIGINT)
        out, err = run.communicate(timeout=60)
        self.assertEqual(run.returncode, 4, (out, err))
        run_id = self.shipshape("--json", "runs").json()["runs"][0]["id"]
        self.assertEqual(self.show(run_id)["run"]["status"], "waiting")
        r = self.shipshape("check-off", run_id, "qa", "--as", "qa")
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("resume", run_id)
        self.assertEqual(r.code, 0, r)

    def test_wait_timeout_stops_waiting(self):
        r = self.shipshape("run", "checklists/gate.toml", "--wait", "--wait-timeout", "300ms")
        self.assertEqual(r.code, 4, r)
        self.assertIn("waiting for a check-off of qa (role qa)", r.out)
        r = self.shipshape("run", "checklists/gate.toml", "--wait-timeout", "1s")
        self.assertEqual(r.code, 2, r)
        self.assertIn("--wait-timeout needs --wait", r.err)


class PostgresLiveTest(LiveTestCase):
    server_pg = None
    unavailable = None
    databases = 0

    @classmethod
    def setUpClass(cls):
        cls.server_pg, cls.unavailable = start_for_tests("shipshape-e2e-pglive-")

    @classmethod
    def tearDownClass(cls):
        if cls.server_pg:
            cls.server_pg.stop()

    def setUp(self):
        super().setUp()
        require(self, self.server_pg is not None, f"a test PostgreSQL server: {self.unavailable}")
        PostgresLiveTest.databases += 1
        self.uri = self.server_pg.createdb(f"live{PostgresLiveTest.databases}_{os.getpid()}")
        self.env["SHIPSHAPE_STORE"] = self.uri
        r = self.shipshape("store", "migrate")
        self.assertEqual(r.code, 0, r)

    def test_run_wait_continues_after_a_check_off_through_the_store(self):
        run = self.start("run", "checklists/gate.toml", "--wait")
        self.wait_line(run, "waiting for a check-off of qa (role qa)")
        # Another working copy (another machine, as far as shipshape can tell) checks it off.
        second = os.path.join(self.tmp, "ops2")
        shutil.copytree(self.repo, second, ignore=shutil.ignore_patterns(".shipshape"))
        # On a shared store the CLI authenticates: bob's token, and bob holds the role.
        self.assertEqual(self.shipshape("user", "add", "bob", "--roles", "qa").code, 0)
        token = self.shipshape("user", "token", "bob")
        self.assertEqual(token.code, 0, token)
        env = dict(self.env, SHIPSHAPE_TOKEN=token.out.strip())
        r = self.shipshape("check-off", "last", "qa", "--as", "qa", cwd=second, env=env)
        self.assertEqual(r.code, 0, r)
        out, err = run.communicate(timeout=60)
        self.assertEqual(run.returncode, 0, (out, err))
        run_id = self.shipshape("--json", "runs", cwd=second).json()["runs"][0]["id"]
        self.assertEqual(self.step_states(run_id),
                         {"build": "ok", "qa": "checked-off", "ship": "ok"})
        shown = self.show(run_id)
        offs = [c for st in shown["steps"] for c in st.get("check_offs", [])]
        self.assertEqual([c["by"] for c in offs], ["bob"], shown)

    def test_the_stream_and_the_log_come_from_the_database(self):
        self.start_server()
        events = self.stream()
        run = self.start("run", "checklists/talk.toml")
        seen = events.until(lambda e: e[1] == "log" and e[2]["line"].startswith("first"))
        run_id = seen[-1][2]["run"]
        self.assertIsNone(run.poll())
        with open(os.path.join(self.repo, "release"), "w"):
            pass
        events.until(lambda e: e[1] == "run" and e[2]["status"] == "done")
        self.assertEqual(run.wait(timeout=60), 0)
        # Another working copy has no log file, and reads the log from the database.
        second = os.path.join(self.tmp, "ops2")
        shutil.copytree(self.repo, second, ignore=shutil.ignore_patterns(".shipshape"))
        r = self.shipshape("show", run_id, "--log", "talk", cwd=second)
        self.assertEqual(r.code, 0, r)
        self.assertIn("first token=***\nsecond\n", r.out)
