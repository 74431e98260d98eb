"""Pull reports, black-box (#20, docs/specs/pull-report.md): `shipshape serve` takes a pulling
host's report from the host's own token (201), takes it again without counting it twice (200),
refuses another host's name (403), no token (401), a malformed document naming the field (400)
and an oversized one (413); `shipshape fleet reports` shows each host's newest report (text and
--json) and one host's reports."""
import http.client
import json
import signal
import subprocess
import urllib.parse

from harness import RepoTestCase


def report(host, run, commit="3b1f2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", facts=None,
           result="converged"):
    codes = {"converged": 0, "failed": 1, "invalid": 2}
    drift = [] if result == "converged" else ["file:/etc/motd", "service:nginx"]
    return {
        "format": "shipshape.pull-report/1", "host": host, "run": run, "commit": commit,
        "applied_commit": commit, "branch": "main", "started_at": 1796601600000,
        "finished_at": 1796601600412, "result": result, "exit_code": codes[result],
        "error": "" if result == "converged" else "drift remains",
        "apply": {"resources": 12, "changed": 1, "failed": 0},
        "drift": {"drifted": len(drift), "resources": drift}, "facts": facts,
    }


class PullReportsTest(RepoTestCase):
    def setUp(self):
        super().setUp()
        for name, roles in [("web-1", "host"), ("web-2", "host")]:
            r = self.shipshape("user", "add", name, "--roles", roles)
            self.assertEqual(r.code, 0, r)
        self.web1 = self.shipshape("user", "token", "web-1").out.strip()
        self.web2 = self.shipshape("user", "token", "web-2").out.strip()
        r = self.shipshape("--json", "facts")
        self.assertEqual(r.code, 0, r)
        self.facts = json.loads(r.out)["hosts"][0]  # a shipshape.facts/1 document
        self.server = self.start("serve", "--listen", "127.0.0.1:0")
        line = self.server.stdout.readline()
        if not line.startswith("listening on http://127.0.0.1:"):
            self.server.kill()
            self.fail(f"first line {line!r}")
        url = urllib.parse.urlsplit(line.split()[-1])
        self.host, self.port = url.hostname, url.port

    def tearDown(self):
        if self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.communicate()
        super().tearDown()

    def request(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def post(self, host, doc, token):
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        return self.request("POST", f"/api/v1/hosts/{host}/reports", body, token)

    def test_a_host_reports_once_and_is_refused_for_others(self):
        doc = report("web-1", "0f3a9c2b7d4e1a65", facts=self.facts)
        self.assertGreater(len(json.dumps(doc)), 1000, "a real facts document")
        status, first = self.post("web-1", doc, self.web1)
        self.assertEqual(status, 201, first)
        self.assertEqual(first["stored"], True)
        # A retry after a lost answer: the same id, not stored again.
        status, again = self.post("web-1", doc, self.web1)
        self.assertEqual((status, again), (200, {"stored": False, "id": first["id"]}))
        # web-2's token may not report for web-1, nor may anyone anonymously.
        status, refused = self.post("web-1", report("web-1", "1111111111111111"), self.web2)
        self.assertEqual(status, 403, refused)
        self.assertIn("user 'web-2' may not report for host 'web-1'", refused["error"])
        status, _ = self.post("web-1", report("web-1", "2222222222222222"), None)
        self.assertEqual(status, 401)
        # A malformed document names the field; a document of another host than the route's.
        bad = report("web-1", "3333333333333333")
        bad["drift"]["resources"] = ["file:/etc/motd", 7]
        bad["drift"]["drifted"] = 2
        status, why = self.post("web-1", bad, self.web1)
        self.assertEqual((status, why["error"]),
                         (400, "drift.resources[1]: expected a string, not a number"))
        status, why = self.post("web-1", report("web-2", "4444444444444444"), self.web1)
        self.assertEqual(status, 400, why)
        # Over 1 MiB: refused before it is read.
        status, _ = self.post("web-1", b" " * (1024 * 1024 + 1), self.web1)
        self.assertEqual(status, 413)

        status, reports = self.request("GET", "/api/v1/hosts/web-1/reports")
        self.assertEqual(status, 200)
        self.assertEqual([r["run"] for r in reports["reports"]], ["0f3a9c2b7d4e1a65"])

    def test_fleet_reports_shows_each_hosts_newest_report(self):
        self.assertEqual(self.post("web-1", report("web-1", "0000000000000001", facts=self.facts),
                                   self.web1)[0], 201)
        self.assertEqual(self.post("web-1", report("web-1", "0000000000000002", result="failed"),
                                   self.web1)[0], 201)
        self.assertEqual(self.post("web-2", report("web-2", "0000000000000003"), self.web2)[0],
                         201)
        r = self.shipshape("fleet", "reports")
        self.assertEqual(r.code, 0, r)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 2, r.out)
        self.assertRegex(lines[0], r"^web-1  failed  3b1f2c4d5e6f  drift 2  \d+s ago  drift remains$")
        self.assertRegex(lines[1], r"^web-2  converged  3b1f2c4d5e6f  drift 0  \d+s ago$")
        r = self.shipshape("--json", "fleet", "reports")
        self.assertEqual(r.code, 0, r)
        doc = r.json()
        self.assertEqual(doc["kind"], "fleet-reports")
        self.assertEqual([(x["host"], x["run"]) for x in doc["reports"]],
                         [("web-1", "0000000000000002"), ("web-2", "0000000000000003")])
        self.assertNotIn("facts", doc["reports"][0])
        r = self.shipshape("fleet", "reports", "--host", "web-1", "--limit", "1")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(len(r.out.splitlines()), 1, r.out)
        self.assertIn("failed", r.out)
        r = self.shipshape("fleet", "reports", "--host", "web-3")
        self.assertEqual((r.code, r.out), (0, "no reports from web-3 yet\n"))
