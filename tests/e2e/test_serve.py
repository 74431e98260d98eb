"""`shipshape serve`, black-box: the read-only JSON API over a real ops repo's store, on a
loopback port the kernel picks (--listen 127.0.0.1:0, the bound address is the first line of
stdout). Every route of docs/specs/openapi.json is called and answers as documented; bad input
(filter values, unknown runs and steps, SQL metacharacters, ../ paths, oversized bodies, other
methods, a slow client) gets a 4xx with a reason and breaks nothing; a step log is the redacted
text, unescaped; SIGTERM and SIGINT stop the server with exit 0; the systemd unit is valid."""
import http.client
import json
import ssl
import os
import shutil
import signal
import socket
import subprocess
import time
import unittest
import urllib.parse

from harness import BIN, RepoTestCase, require

SECRET = "Zq7-serve-s3cr3t-81"
SPEC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "specs", "openapi.json")
JSON_TYPE = "application/json; charset=utf-8"


class ServeTestCase(RepoTestCase):
    """An ops repo with a finished run and a run waiting for QA, and a server over it."""

    def setUp(self):
        super().setUp()
        self.env["SHIPSHAPE_TEST_SECRET"] = SECRET
        self.write("checklists/quick.toml", """
            name = "quick"
            [[step]]
            id = "hello"
            sh = "echo hello"
            """)
        self.write("checklists/deploy.toml", """
            name = "deploy"
            [[step]]
            id = "build"
            sh = "echo '<script>alert(1)</script> & \\"q\\"'; echo token=$SHIPSHAPE_TEST_SECRET"
            [[step]]
            id = "qa"
            manual = "QA confirms"
            role = "qa"
            needs = ["build"]
            """)
        r = self.shipshape("run", "checklists/quick.toml")
        self.assertEqual(r.code, 0, r)
        self.done_id = r.out.split("run ")[1].split()[0]
        time.sleep(1.1)  # run ids carry the second: keep "newest first" unambiguous
        r = self.shipshape("run", "checklists/deploy.toml", "--env", "staging")
        self.assertEqual(r.code, 4, r)
        self.waiting_id = r.out.split("run ")[1].split()[0]
        self.server = None
        self.start_server()

    def tearDown(self):
        if self.server is not None and self.server.poll() is None:
            self.stop_server()
        super().tearDown()

    def start_server(self, *extra):
        self.server = self.start("serve", "--listen", "127.0.0.1:0", *extra)
        line = self.server.stdout.readline()
        if not line.startswith("listening on http://127.0.0.1:"):
            self.server.kill()
            _, err = self.server.communicate(timeout=30)
            self.fail(f"first line {line!r}; stderr: {err}")
        url = urllib.parse.urlsplit(line.split()[-1])
        self.host, self.port = url.hostname, url.port

    def stop_server(self, sig=signal.SIGTERM):
        self.server.send_signal(sig)
        out, err = self.server.communicate(timeout=30)
        self.assertEqual(self.server.returncode, 0, err)
        self.assertIn("shipshape serve: stopped", err)
        return err

    def request(self, method, path, body=None, headers=None):
        """(status, headers, parsed JSON body); the path is sent exactly as given."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            # Every response, whatever its status, is JSON and says so.
            self.assertEqual(resp.getheader("Content-Type"), JSON_TYPE, (method, path))
            self.assertEqual(resp.getheader("X-Content-Type-Options"), "nosniff", (method, path))
            return resp.status, resp, json.loads(raw) if method != "HEAD" else None
        finally:
            conn.close()

    def get(self, path):
        return self.request("GET", path)

    def assert_error(self, status, path, method="GET", body=None, contains=""):
        got, _, doc = self.request(method, path, body=body)
        self.assertEqual(got, status, (method, path, doc))
        self.assertIsInstance(doc.get("error"), str, doc)
        self.assertIn(contains, doc["error"])
        return doc


class ServeRoutesTest(ServeTestCase):
    def test_health_names_the_store_and_version(self):
        status, _, doc = self.get("/api/v1/health")
        self.assertEqual(status, 200)
        self.assertEqual(doc["status"], "ok")
        self.assertEqual(doc["store"]["kind"], "sqlite")
        self.assertIsInstance(doc["store"]["schema_version"], int)
        version = self.shipshape("--version").out.split()[-1]
        self.assertEqual(doc["version"], version)

    def test_runs_newest_first_with_filters(self):
        status, _, runs = self.get("/api/v1/runs")
        self.assertEqual(status, 200)
        self.assertEqual([r["id"] for r in runs], [self.waiting_id, self.done_id])
        waiting, done = runs
        self.assertEqual((waiting["checklist"], waiting["env"], waiting["status"]),
                         ("deploy", "staging", "waiting"))
        self.assertEqual((done["checklist"], done["env"], done["status"]),
                         ("quick", "local", "done"))
        self.assertIsNone(waiting["ended_at_ms"])
        self.assertGreaterEqual(done["ended_at_ms"], done["started_at_ms"])
        # The CLI reads the same store and agrees.
        cli = self.shipshape("--json", "runs").json()["runs"]
        self.assertEqual([(r["id"], r["status"]) for r in cli],
                         [(r["id"], r["status"]) for r in runs])
        for query, ids in [("env=staging", [self.waiting_id]),
                           ("checklist=quick", [self.done_id]),
                           ("status=done", [self.done_id]),
                           ("status=waiting&checklist=deploy", [self.waiting_id]),
                           ("limit=1", [self.waiting_id]),
                           ("env=prod", [])]:
            status, _, got = self.get("/api/v1/runs?" + query)
            self.assertEqual(status, 200, query)
            self.assertEqual([r["id"] for r in got], ids, query)

    def test_bad_filter_values_are_400_with_a_reason(self):
        for query, reason in [
                ("limit=abc", "limit must be a whole number from 1 to 1000, not 'abc'"),
                ("limit=0", "limit must be a whole number from 1 to 1000"),
                ("limit=99999999999999999999", "limit must be a whole number"),
                ("status=nope", "status must be one of running, waiting"),
                ("env=", "env must be a name of 1 to 200 characters"),
                ("env=%1b%5b2J", "not 'x1b[2J'".replace("x1b", "\\x1b")),
                ("sort=id", "unknown query parameter 'sort'"),
                ("env=a&env=b", "query parameter 'env' given twice")]:
            doc = self.assert_error(400, "/api/v1/runs?" + query)
            self.assertIn(reason, doc["error"], query)

    def test_run_detail_has_steps_with_status_and_role(self):
        status, _, run = self.get("/api/v1/runs/" + self.waiting_id)
        self.assertEqual(status, 200)
        self.assertEqual((run["id"], run["status"], run["checklist"]),
                         (self.waiting_id, "waiting", "deploy"))
        steps = {s["id"]: s for s in run["steps"]}
        self.assertEqual(steps["build"]["status"], "ok")
        self.assertNotIn("role", steps["build"])
        self.assertEqual(steps["build"]["exit_code"], 0)
        self.assertGreaterEqual(steps["build"]["duration_ms"], 0)
        self.assertTrue(steps["build"]["has_log"])
        self.assertEqual((steps["qa"]["status"], steps["qa"]["role"], steps["qa"]["kind"]),
                         ("waiting", "qa", "manual"))
        # A check-off through the CLI shows up on the next request (one shared store).
        r = self.shipshape("check-off", self.waiting_id, "qa", "--as", "qa", "--by", "alice",
                           "--note", "fine")
        self.assertEqual(r.code, 0, r)
        _, _, run = self.get("/api/v1/runs/" + self.waiting_id)
        qa = {s["id"]: s for s in run["steps"]}["qa"]
        self.assertEqual(qa["status"], "checked-off")
        self.assertEqual([(c["by"], c["note"]) for c in qa["check_offs"]], [("alice", "fine")])

    def test_step_log_is_the_redacted_text_unescaped(self):
        status, _, doc = self.get(f"/api/v1/runs/{self.waiting_id}/steps/build/log")
        self.assertEqual(status, 200)
        self.assertEqual((doc["run"], doc["step"]), (self.waiting_id, "build"))
        self.assertIn('<script>alert(1)</script> & "q"\n', doc["log"])
        self.assertIn("token=***", doc["log"])
        self.assertNotIn(SECRET, doc["log"])
        # The log (read from the store) is the file as the run wrote it, nothing added or
        # escaped.
        path = os.path.join(self.repo, ".shipshape", "runs", self.waiting_id, "build.log")
        with open(path, encoding="utf-8") as f:
            self.assertEqual(doc["log"], f.read())
        # A manual step has no log: empty text, not an error.
        status, _, doc = self.get(f"/api/v1/runs/{self.waiting_id}/steps/qa/log")
        self.assertEqual((status, doc["log"]), (200, ""))

    def test_every_documented_route_answers_as_documented(self):
        status, _, served = self.get("/api/v1/openapi.json")
        self.assertEqual(status, 200)
        with open(SPEC, encoding="utf-8") as f:
            self.assertEqual(served, json.load(f), "the served document is docs/specs/openapi.json")
        schemas = served["components"]["schemas"]

        def resolve(schema):
            while "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
            return schema

        values = {"id": self.waiting_id, "step": "build"}
        self.assertGreaterEqual(len(served["paths"]), 6)
        for template, item in served["paths"].items():
            if any("security" in op for op in item.values()):
                continue  # routes that need a token: test_auth.py calls every one of them
            if "{pipeline}" in template:
                continue  # needs a CI pipeline: src/server/ci_json_test.cpp, tests/browser/ci.test.mjs
            self.assertEqual(list(item), ["get"], template)
            if "text/event-stream" in item["get"]["responses"]["200"]["content"]:
                self.check_event_stream(template)  # test_live.py reads it in depth
                continue
            path = template
            for name, value in values.items():
                path = path.replace("{" + name + "}", value)
            status, _, doc = self.get(path)
            documented = item["get"]["responses"]
            self.assertIn(str(status), documented, template)
            self.assertEqual(status, 200, (template, doc))
            schema = resolve(documented["200"]["content"]["application/json"]["schema"])
            if schema.get("type") == "array":
                item_schema = resolve(schema["items"])
                self.assertTrue(doc, template)
                for element in doc:
                    self.assertLessEqual(set(item_schema["required"]), set(element), template)
            else:
                self.assertLessEqual(set(schema["required"]), set(doc), template)
            # Unknown ids are 404 wherever the document says so.
            if "{id}" in template:
                self.assertIn("404", documented)
                self.assert_error(404, template.replace("{id}", "nope").replace("{step}", "build"))


    def check_event_stream(self, path):
        """The stream opens, replays the store after a cursor (this setUp's runs), and says
        which kind each event is."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request("GET", path + "?after=0-0&run=" + self.waiting_id)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
            kinds = []
            while "log" not in kinds:
                line = resp.fp.readline().decode()
                self.assertTrue(line, kinds)
                if line.startswith("event: "):
                    kinds.append(line.split()[1])
            self.assertEqual(kinds[0], "run")
        finally:
            conn.close()


class ServeDashboardTest(ServeTestCase):
    """The dashboard's read routes (board, environments, history) and its compiled-in page."""

    def raw(self, path, method="GET", headers=None):
        """(status, response, bytes) of a request whose answer need not be JSON."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp, resp.read()
        finally:
            conn.close()

    def test_board_columns_cards_and_filters(self):
        status, _, board = self.get("/api/v1/board")
        self.assertEqual(status, 200)
        columns = {c["name"]: c for c in board["columns"]}
        self.assertEqual([c["name"] for c in board["columns"]],
                         ["planned", "running", "waiting", "failed", "done"])
        waiting = columns["waiting"]
        self.assertEqual(waiting["count"], 1)
        card = waiting["cards"][0]
        self.assertEqual((card["run"], card["checklist"], card["env"], card["status"],
                          card["step"], card["role"]),
                         (self.waiting_id, "deploy", "staging", "waiting", "qa", "qa"))
        self.assertEqual([c["run"] for c in columns["done"]["cards"]], [self.done_id])
        for name in ["planned", "running", "failed"]:
            self.assertEqual((columns[name]["count"], columns[name]["cards"]), (0, []), name)
        for query, waiting_runs, done_runs in [("env=staging", 1, 0), ("env=local", 0, 1),
                                               ("checklist=quick", 0, 1),
                                               ("env=staging&checklist=quick", 0, 0),
                                               ("env=x%27%20OR%20%271%27%3D%271", 0, 0)]:
            status, _, got = self.get("/api/v1/board?" + query)
            self.assertEqual(status, 200, query)
            counts = {c["name"]: c["count"] for c in got["columns"]}
            self.assertEqual((counts["waiting"], counts["done"]), (waiting_runs, done_runs), query)
        for query, reason in [("status=done", "unknown query parameter 'status'"),
                              ("env=", "env must be a name of 1 to 200 characters"),
                              ("env=a&env=b", "query parameter 'env' given twice")]:
            self.assert_error(400, "/api/v1/board?" + query, contains=reason)

    def test_environments_list_every_host(self):
        r = self.shipshape("facts", "--save")
        self.assertEqual(r.code, 0, r)
        status, _, doc = self.get("/api/v1/environments")
        self.assertEqual(status, 200)
        self.assertEqual(doc["project"], "test")
        self.assertEqual(doc["environments"], ["local", "staging"])
        hosts = {h["host"]: h for h in doc["hosts"]}
        self.assertEqual(set(hosts), {"localhost", "stage1"})
        local = hosts["localhost"]
        self.assertEqual((local["env"], local["version"], local["drift"], local["requirements"]),
                         ("local", "unknown", "unknown", "unknown"))
        self.assertEqual(local["requirements_detail"], "no requirements.toml in the ops repo")
        self.assertGreaterEqual(local["facts_age_s"], 0)
        self.assertIsNone(hosts["stage1"]["facts_age_s"])
        self.assert_error(400, "/api/v1/environments?env=local", contains="no query parameters")

    def test_environments_drift_from_a_saved_report(self):
        root = os.path.join(self.tmp, "root")
        os.makedirs(root)
        self.write("files/app.conf", "port = 8080\n")
        self.write("states/web.toml", '[[file]]\npath = "/etc/app.conf"\nsource = "files/app.conf"\n')

        def drift_of_localhost():
            _, _, doc = self.get("/api/v1/environments")
            return {h["host"]: h["drift"] for h in doc["hosts"]}["localhost"]

        self.assertEqual(drift_of_localhost(), "unknown")  # no drift --save yet
        r = self.shipshape("drift", "--save", "--state", "states/web.toml", "--root", root)
        self.assertEqual(r.code, 1, r)
        self.assertEqual(drift_of_localhost(), "1 difference")
        r = self.shipshape("apply", "--state", "states/web.toml", "--root", root)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(drift_of_localhost(), "1 difference", "only drift --save reports count")
        r = self.shipshape("drift", "--save", "--state", "states/web.toml", "--root", root)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(drift_of_localhost(), "clean")

    def test_history_per_checklist_per_day(self):
        status, _, doc = self.get("/api/v1/history")
        self.assertEqual(status, 200)
        self.assertEqual(doc["days"], 30)
        by_name = {c["checklist"]: c["days"] for c in doc["checklists"]}
        self.assertEqual(set(by_name), {"quick", "deploy"})
        quick = by_name["quick"][0]
        self.assertEqual((quick["runs"], quick["failures"]), (1, 0))
        self.assertGreaterEqual(quick["max_ms"], quick["p50_ms"])
        self.assertIsNone(by_name["deploy"][0]["p50_ms"], "a waiting run has not ended")
        status, _, doc = self.get("/api/v1/history?checklist=quick&days=1")
        self.assertEqual([c["checklist"] for c in doc["checklists"]], ["quick"])
        for query in ["days=0", "days=367", "days=x", "days=1&days=2", "limit=3"]:
            self.assert_error(400, "/api/v1/history?" + query)

    def test_the_page_and_its_assets(self):
        status, resp, body = self.raw("/")
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "text/html; charset=utf-8")
        self.assertTrue(resp.getheader("Content-Security-Policy").startswith("default-src 'self'"))
        self.assertEqual(resp.getheader("X-Content-Type-Options"), "nosniff")
        self.assertEqual(resp.getheader("Cache-Control"), "no-cache")
        self.assertIn(b"/assets/app.js", body)
        for name, kind in [("app.js", "text/javascript; charset=utf-8"),
                           ("app.css", "text/css; charset=utf-8"), ("icon.svg", "image/svg+xml")]:
            status, resp, body = self.raw("/assets/" + name)
            self.assertEqual((status, resp.getheader("Content-Type")), (200, kind), name)
            self.assertTrue(body)
            etag = resp.getheader("ETag")
            status, _, _ = self.raw("/assets/" + name, headers={"If-None-Match": etag})
            self.assertEqual(status, 304, name)
        status, resp, body = self.raw("/", method="HEAD")
        self.assertEqual((status, body), (200, b""))

    def test_the_event_stream_is_never_compressed(self):
        # Browsers send Accept-Encoding: a compressed stream reaches their EventSource only when
        # the compressor's buffer fills, so nothing would show live.
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request("GET", "/api/v1/events?after=0-0",
                         headers={"Accept-Encoding": "gzip, deflate, br"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertIsNone(resp.getheader("Content-Encoding"))
            self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
            self.assertEqual(resp.read(13), b"retry: 1000\n\n")
        finally:
            conn.close()

    def test_paths_outside_the_api_reach_no_file(self):
        for path in ["/assets/../../../../etc/passwd", "/assets/..%2f..%2f..%2fetc%2fpasswd",
                     "/assets/%2e%2e/%2e%2e/etc/passwd", "/assets/app.js%00.png",
                     "/assets/", "/assets/index.html", "/..", "/%2e%2e/etc/passwd",
                     "/etc/passwd", "/favicon.ico", "/src/server/web/app.js",
                     "/assets/" + "a" * 4000]:
            doc = self.assert_error(404, path)
            self.assertNotIn("root:", json.dumps(doc), path)
        self.assert_error(405, "/", method="POST", body=b"{}", contains="GET only")


class ServeBadInputTest(ServeTestCase):
    def test_unknown_runs_steps_and_sql_metacharacters_are_404(self):
        for run_id in ["nope", "x' OR '1'='1", "1; DROP TABLE runs; --", "\"; --", "%", "_"]:
            quoted = urllib.parse.quote(run_id, safe="")
            doc = self.assert_error(404, "/api/v1/runs/" + quoted)
            self.assertEqual(doc["error"], f"no run '{run_id}'")
            self.assert_error(404, f"/api/v1/runs/{quoted}/steps/build/log")
        for step in ["nope", "' OR 1=1 --", "..", "build.log"]:
            self.assert_error(404, f"/api/v1/runs/{self.waiting_id}/steps/"
                                   f"{urllib.parse.quote(step, safe='')}/log",
                              contains="has no step")
        # Nothing broke: both runs are still there, unchanged.
        _, _, runs = self.get("/api/v1/runs")
        self.assertEqual([r["id"] for r in runs], [self.waiting_id, self.done_id])

    def test_malformed_paths_never_reach_the_file_system(self):
        for path in ["/api/v1/runs/../../../../etc/passwd",
                     f"/api/v1/runs/{self.waiting_id}/steps/../../../../../etc/passwd/log",
                     f"/api/v1/runs/{self.waiting_id}/steps/..%2f..%2f..%2fetc%2fpasswd/log",
                     "/api/v1/runs/%2e%2e/steps/%2e%2e/log",
                     "/api/v1/../../etc/passwd", "/index.html", "/api/v1/runs/",
                     "/api/v1//runs", "/api/v2/runs", "/api/v1/runs/" + "a" * 4000]:
            doc = self.assert_error(404, path)
            self.assertNotIn("root:", json.dumps(doc))

    def test_methods_and_bodies(self):
        doc = self.assert_error(405, "/api/v1/runs", method="POST", body=b"{}",
                                contains="this route answers GET only")
        _, resp, _ = self.request("DELETE", "/api/v1/runs/" + self.waiting_id, body=b"")
        self.assertEqual((resp.status, resp.getheader("Allow")), (405, "GET, HEAD"))
        self.assert_error(404, "/api/v1/nothing", method="PUT", body=b"{}")
        self.assert_error(413, "/api/v1/runs", method="POST", body=b"x" * (1024 * 1024 + 1),
                          contains="too large")
        status, _, _ = self.request("HEAD", "/api/v1/health")
        self.assertEqual(status, 200)
        # Nothing was written by any of it.
        _, _, run = self.get("/api/v1/runs/" + self.waiting_id)
        self.assertEqual(run["status"], "waiting")

    def test_slow_client_is_dropped_and_others_are_served(self):
        slow = socket.create_connection((self.host, self.port), timeout=60)
        try:
            slow.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")  # never finished
            status, _, _ = self.get("/api/v1/health")  # meanwhile, others are answered
            self.assertEqual(status, 200)
            started = time.monotonic()
            rest = slow.recv(65536)  # the server closes after its read timeout (5 s)
            while rest and not rest.endswith(b"}"):
                more = slow.recv(65536)
                if not more:
                    break
                rest += more
            self.assertLess(time.monotonic() - started, 55)
            self.assertNotIn(b"200 OK", rest)
        finally:
            slow.close()


class ServeProcessTest(ServeTestCase):
    def test_sigint_stops_with_exit_0(self):
        self.stop_server(signal.SIGINT)

    def test_listen_checks(self):
        self.stop_server()
        r = self.shipshape("serve", "--listen", "127.0.0.1")
        self.assertEqual(r.code, 2, r)
        self.assertIn("--listen '127.0.0.1': no port", r.err)
        # A port taken by another listener: refused, naming the address.
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            r = self.shipshape("serve", "--listen", f"127.0.0.1:{port}", timeout=30)
            self.assertEqual(r.code, 1, r)
            self.assertIn(f"cannot listen on 127.0.0.1:{port}", r.err)
        # Another address than loopback is allowed when asked for, with a warning.
        self.server = self.start("serve", "--listen", "0.0.0.0:0")
        line = self.server.stdout.readline()
        self.assertTrue(line.startswith("listening on http://0.0.0.0:"), line)
        self.port, self.host = int(line.rsplit(":", 1)[1]), "127.0.0.1"
        self.assertEqual(self.get("/api/v1/health")[0], 200)
        err = self.stop_server()
        self.assertIn("not a loopback address: reads need no authentication", err)

    def test_tls(self):
        self.stop_server()
        openssl = shutil.which("openssl")
        require(self, openssl is not None, "the openssl command (Debian package openssl)")
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        made = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                               "-keyout", key, "-out", cert, "-days", "1", "-subj",
                               "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(made.returncode, 0, made.stderr)
        # One without the other is a usage error; a file that is no certificate is refused.
        r = self.shipshape("serve", "--tls-cert", cert)
        self.assertEqual(r.code, 2, r)
        self.assertIn("--tls-cert requires --tls-key", r.err)
        r = self.shipshape("serve", "--listen", "127.0.0.1:0", "--tls-cert", key,
                           "--tls-key", key, timeout=30)
        self.assertEqual(r.code, 2, r)
        self.assertIn(f"cannot load the TLS certificate '{key}'", r.err)
        self.server = self.start("serve", "--listen", "127.0.0.1:0", "--tls-cert", cert,
                                 "--tls-key", key)
        line = self.server.stdout.readline()
        self.assertTrue(line.startswith("listening on https://127.0.0.1:"), line)
        port = int(line.rsplit(":", 1)[1])
        context = ssl.create_default_context(cafile=cert)
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context)
        conn.request("GET", "/api/v1/runs")
        resp = conn.getresponse()
        runs = json.loads(resp.read())
        conn.close()
        self.assertEqual(resp.status, 200)
        self.assertEqual([r["id"] for r in runs], [self.waiting_id, self.done_id])
        # Plain HTTP on the TLS port gets no answer.
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            plain.request("GET", "/api/v1/health")
            plain.getresponse()
        plain.close()
        self.stop_server()
        # The unit carries the files, absolute.
        r = self.shipshape("serve", "--print-systemd-unit", "--tls-cert", cert, "--tls-key", key)
        self.assertIn(f'--tls-cert "{cert}" --tls-key "{key}"\n', r.out)

    def test_help_lists_todays_routes(self):
        r = self.shipshape("serve", "--help")
        self.assertEqual(r.code, 0, r)
        for route in ["GET /api/v1/health", "GET /api/v1/runs", "GET /api/v1/runs/ID",
                      "GET /api/v1/runs/ID/steps/STEP/log", "GET /api/v1/openapi.json",
                      "POST /api/v1/runs/ID/steps/STEP/check-off", "Reads need no authentication",
                      "GET /api/v1/events", "127.0.0.1"]:
            self.assertIn(route, r.out)

    def test_systemd_unit(self):
        r = self.shipshape("serve", "--print-systemd-unit", "--listen", "127.0.0.1:9000")
        self.assertEqual(r.code, 0, r)
        unit = r.out
        binary = os.path.realpath(BIN)
        repo = os.path.realpath(self.repo)
        self.assertIn(f'ExecStart="{binary}" -C "{repo}" serve --listen "127.0.0.1:9000"\n',
                      unit)
        for line in ["Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     f'ReadWritePaths="{repo}/.shipshape"', "PrivateTmp=yes",
                     "[Install]", "WantedBy=multi-user.target"]:
            self.assertIn(line + "\n", unit)
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            return  # the content checks above are the test then
        path = os.path.join(self.tmp, "shipshape-serve.service")
        with open(path, "w") as f:
            f.write(unit)
        v = subprocess.run([analyze, "verify", path], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)


if __name__ == "__main__":
    unittest.main()
