"""`shipshape serve` under bad input and a failing store, black-box.

Bad input (on top of test_serve.py's cases): malformed request lines, an oversized body, a very
long header, unknown query parameters, SQL metacharacters in run ids and filter values, `../`
and `%2e%2e%2f` in paths, a client that sends half a request and stalls. Each gets a 4xx with a
reason (or, for the staller, is dropped after the read timeout while others are served), and the
store is byte-for-byte the same afterwards.

A PostgreSQL store that goes down while the server runs: every API route that reads the store
answers 503 naming the store (never its password), the CLI names the unreachable store and exits
1, and once PostgreSQL is back the server answers 200 again without a restart."""
import json
import os
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
import urllib.parse

from harness import RepoTestCase, require
from pgserver import PgServer, PgUnavailable
from test_serve import ServeTestCase


def raw_exchange(host, port, data, timeout=30):
    """Sends `data` as is and returns everything the server answers until it closes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and out.rstrip().endswith(b"}"):
                break
        return out


class ServeRobustTest(ServeTestCase):
    def store_dump(self):
        """Every row of the SQLite store, as SQL text."""
        path = os.path.join(self.repo, ".shipshape", "state.db")
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return "\n".join(db.iterdump())
        finally:
            db.close()

    def setUp(self):
        super().setUp()
        self.before = self.store_dump()

    def tearDown(self):
        if self.server is not None and self.server.poll() is None:
            # Whatever the test sent, nothing was written.
            self.assertEqual(self.store_dump(), self.before)
        super().tearDown()

    def assert_status_line(self, answer, status):
        first = answer.split(b"\r\n", 1)[0]
        self.assertTrue(first.startswith(b"HTTP/1.1 %d " % status), answer[:300])
        body = answer.split(b"\r\n\r\n", 1)[1]
        doc = json.loads(body)
        self.assertIsInstance(doc["error"], str)
        self.assertTrue(doc["error"], answer)
        return doc

    def test_malformed_request_lines_are_400(self):
        for line in [b"GARBAGE\r\n\r\n",
                     b"GET\r\n\r\n",
                     b"GET /api/v1/runs\r\n\r\n",
                     b"GET /api/v1/runs HTTP/1.1 extra\r\nHost: x\r\n\r\n",
                     b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
                     b"GET /api/v1/\xff\xfe HTTP/1.1\r\n\r\n"]:
            answer = raw_exchange(self.host, self.port, line)
            doc = self.assert_status_line(answer, 400 if b"\xff" not in line else 404)
            self.assertTrue(doc["error"].startswith(("bad request", "no such route")), doc)
        # The server still answers.
        self.assertEqual(self.get("/api/v1/health")[0], 200)

    def test_oversized_body_and_very_long_header(self):
        self.assert_error(413, "/api/v1/runs", method="POST",
                          body=b"{" + b" " * (1024 * 1024) + b"}", contains="1 MiB")
        answer = raw_exchange(self.host, self.port,
                              b"GET /api/v1/runs HTTP/1.1\r\nHost: x\r\nX-Big: " +
                              b"a" * (64 * 1024) + b"\r\n\r\n")
        doc = self.assert_status_line(answer, 400)
        self.assertIn("a header line over 8 KiB", doc["error"])
        answer = raw_exchange(self.host, self.port,
                              b"GET /api/v1/runs?" + b"a=1&" * 4000 + b" HTTP/1.1\r\n\r\n")
        self.assert_status_line(answer, 414)

    def test_unknown_query_parameters_are_400_on_every_route(self):
        for path in ["/api/v1/runs?sort=id", "/api/v1/runs?env=a&%27%3B--=1",
                     "/api/v1/health?verbose=1", f"/api/v1/runs/{self.waiting_id}?x=1",
                     f"/api/v1/runs/{self.waiting_id}/steps/build/log?raw=1",
                     "/api/v1/openapi.json?v=2"]:
            self.assert_error(400, path)

    def test_sql_metacharacters_are_values(self):
        for value in ["' OR '1'='1", "staging' --", "staging\"; DROP TABLE runs; --", "%",
                      "_", "staging' UNION SELECT * FROM runs --"]:
            q = urllib.parse.quote(value, safe="")
            for name in ["env", "checklist"]:
                status, _, runs = self.get(f"/api/v1/runs?{name}={q}")
                self.assertEqual((status, runs), (200, []), (name, value))
            self.assert_error(404, "/api/v1/runs/" + q, contains="no run")
        # The real value still matches.
        _, _, runs = self.get("/api/v1/runs?env=staging")
        self.assertEqual([r["id"] for r in runs], [self.waiting_id])

    def test_dot_dot_paths_are_404_and_serve_no_file(self):
        for path in ["/api/v1/runs/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                     "/api/v1/%2e%2e/%2e%2e/etc/passwd",
                     f"/api/v1/runs/{self.waiting_id}/steps/%2e%2e%2f%2e%2e%2fstate.db/log",
                     f"/api/v1/runs/{self.waiting_id}/steps/..%2F..%2F..%2Fstate.db/log",
                     "/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                     "/.shipshape/state.db", "/api/v1/../../.shipshape/state.db"]:
            got, _, doc = self.request("GET", path)
            self.assertEqual(got, 404, (path, doc))
            text = json.dumps(doc)
            self.assertNotIn("root:", text)
            self.assertNotIn("SQLite format", text)

    def test_half_request_is_dropped_while_others_are_served(self):
        stalled = []
        for data in [b"GET /api/v1/runs HTTP/1.1\r\nHost: x\r\n",  # headers never end
                     b"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"]:
            s = socket.create_connection((self.host, self.port), timeout=60)
            s.sendall(data)
            stalled.append(s)
        try:
            # Meanwhile, many clients at once are answered.
            results = []

            def client():
                results.append(self.get("/api/v1/runs")[0])
            threads = [threading.Thread(target=client) for _ in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            self.assertEqual(results, [200] * 20)
            started = time.monotonic()
            for s in stalled:
                answer = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
                self.assertNotIn(b"200 OK", answer)
            # Dropped by the read timeout (5 s), not left open.
            self.assertLess(time.monotonic() - started, 30)
        finally:
            for s in stalled:
                s.close()


class PostgresRepo(RepoTestCase):
    """The ops repo's store is a migrated database on a PostgreSQL server of its own (set up
    before ServeTestCase records its runs: it comes after it in the method order)."""

    PASSWORD = "pw-Zx81-never-shown"

    def setUp(self):
        super().setUp()
        directory = tempfile.mkdtemp(prefix="shipshape-e2e-pgdown-")
        self.pg = None
        try:
            self.pg = PgServer(directory).start()
            self.pg.watch(os.getpid())
        except PgUnavailable as e:
            shutil.rmtree(directory, ignore_errors=True)
            require(self, False, f"a test PostgreSQL server: {e}")
        # Trust authentication ignores the password; it must still never be shown.
        self.uri = self.pg.createdb("downtest").replace("shipshape@",
                                                        f"shipshape:{self.PASSWORD}@")
        self.env["SHIPSHAPE_STORE"] = self.uri
        r = self.shipshape("store", "migrate")
        self.assertEqual(r.code, 0, r)

    def tearDown(self):
        super().tearDown()
        if self.pg is not None:
            self.pg.stop()


class ServePostgresDownTest(ServeTestCase, PostgresRepo):
    """A server over a PostgreSQL store whose server is stopped and started again."""

    def pg_ctl(self, *args):
        return self.pg._run([os.path.join(self.pg.bin, "pg_ctl"), "-D", self.pg.data, *args],
                            "pg_ctl " + args[-1])

    def test_503_naming_the_store_then_back_to_200(self):
        self.assertEqual(self.get("/api/v1/runs")[0], 200)
        status, _, health = self.get("/api/v1/health")
        self.assertEqual((status, health["store"]["kind"]), (200, "postgresql"))

        self.pg_ctl("-m", "fast", "-w", "stop")
        shown = self.uri.replace(self.PASSWORD, "***")
        for path in ["/api/v1/runs", "/api/v1/runs?env=staging", f"/api/v1/runs/{self.done_id}",
                     f"/api/v1/runs/{self.done_id}/steps/hello/log", "/api/v1/health"]:
            got, _, doc = self.request("GET", path)
            self.assertEqual(got, 503, (path, doc))
            self.assertTrue(doc["error"].startswith(f"store {shown} unreachable: "),
                            (path, doc))
            self.assertNotIn(self.PASSWORD, json.dumps(doc))
        self.assertEqual(health["status"], "ok")
        _, _, health = self.get("/api/v1/health")
        self.assertEqual(health["status"], "unavailable")
        self.assertNotIn("schema_version", health["store"])

        # The CLI names the unreachable store, and exits 1 (a store failure).
        r = self.shipshape("runs")
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"connecting to the store '{shown}'", r.err)
        self.assertNotIn(self.PASSWORD, r.err + r.out)

        options = (f"-k {self.pg.directory} -c listen_addresses='' -c fsync=off "
                   f"-c max_connections=50")
        self.pg_ctl("-o", options, "-l", os.path.join(self.pg.directory, "server.log"),
                    "-w", "-t", "60", "start")
        # Back without a restart of the server: the next requests reconnect.
        self.wait_for(lambda: self.get("/api/v1/runs")[0] == 200, timeout=30,
                      what="the API to answer 200 again")
        status, _, runs = self.get("/api/v1/runs")
        self.assertEqual([r["id"] for r in runs], [self.waiting_id, self.done_id])
        status, _, health = self.get("/api/v1/health")
        self.assertEqual((status, health["status"]), (200, "ok"))
        self.assertIsInstance(health["store"]["schema_version"], int)
