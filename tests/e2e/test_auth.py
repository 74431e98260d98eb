"""Users, tokens and roles, black-box: `shipshape user add|token|list|revoke`; the server's
authenticated routes (GET /api/v1/me, POST .../check-off) over a run waiting for QA -- no token
401, a user without the role 403 and nothing written, the QA user 200 and recorded as `by`,
again 409, unknown run or step 404, bad bodies 4xx with a reason and nothing written, 11 bad
tokens from one address 429, a revoked token 401; every route of openapi.json that needs a
token is called here (test_serve.py calls the anonymous ones); and `shipshape check-off` on a
PostgreSQL store, which authenticates with SHIPSHAPE_TOKEN."""
import json
import os
import re
import shutil
import tempfile
import unittest
import urllib.parse

from harness import RepoTestCase, require
from pgserver import start_for_tests
import test_serve

TOKEN = re.compile(r"^ssp_[0-9a-f]{16}_[0-9a-f]{64}$")


class UserCommandsTest(RepoTestCase):
    def test_add_token_list_revoke(self):
        r = self.shipshape("user", "add", "alice", "--roles", "qa,dev")
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("user", "add", "alice", "--roles", "qa")
        self.assertEqual(r.code, 2, r)
        self.assertIn("user 'alice' already exists", r.err)
        r = self.shipshape("user", "add", "bad name")
        self.assertEqual(r.code, 2, r)
        self.assertIn("may hold only letters, digits", r.err)
        r = self.shipshape("user", "add", "bob", "--roles", "qa,,dev")
        self.assertEqual(r.code, 2, r)
        self.assertIn("empty role", r.err)

        r = self.shipshape("user", "token", "alice")
        self.assertEqual(r.code, 0, r)
        token = r.out.rstrip("\n")
        self.assertEqual(r.out, token + "\n", "the token alone on stdout")
        self.assertRegex(token, TOKEN)
        second = self.shipshape("user", "token", "alice").out.strip()
        self.assertNotEqual(second, token)
        r = self.shipshape("user", "token", "nobody")
        self.assertEqual((r.code, r.out), (2, ""), r)
        self.assertIn("no user 'nobody'", r.err)

        r = self.shipshape("user", "list")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, r"alice\s+dev,qa\s+2\s+never")
        r = self.shipshape("--json", "user", "list")
        self.assertEqual(r.code, 0, r)
        self.assertEqual([(u["user"], u["roles"], u["active_tokens"]) for u in r.json()["users"]],
                         [("alice", ["dev", "qa"], 2)])
        # No token material anywhere in the listing, nor in the store's file.
        for secret in (token, second):
            self.assertNotIn(secret.split("_")[2], r.out)
            with open(os.path.join(self.repo, ".shipshape", "state.db"), "rb") as f:
                self.assertNotIn(secret.split("_")[2].encode(), f.read())

        r = self.shipshape("user", "revoke", "alice")
        self.assertEqual((r.code, r.out), (0, "revoked 2 tokens of alice\n"), r)
        r = self.shipshape("--json", "user", "list")
        self.assertEqual(r.json()["users"][0]["active_tokens"], 0)
        r = self.shipshape("user", "revoke", "nobody")
        self.assertEqual(r.code, 2, r)

    def test_help(self):
        r = self.shipshape("user", "--help")
        self.assertEqual(r.code, 0, r)
        for word in ["add", "token", "list", "revoke", "salted", "Exit codes"]:
            self.assertIn(word, r.out)


class AuthServerTest(test_serve.ServeTestCase):
    """The server over a run waiting at step qa (role qa), with a QA user and a dev user."""

    def setUp(self):
        super().setUp()
        for name, roles in [("quinn", "qa"), ("dana", "dev")]:
            r = self.shipshape("user", "add", name, "--roles", roles)
            self.assertEqual(r.code, 0, r)
        self.qa_token = self.shipshape("user", "token", "quinn").out.strip()
        self.dev_token = self.shipshape("user", "token", "dana").out.strip()
        self.check_off_path = f"/api/v1/runs/{self.waiting_id}/steps/qa/check-off"

    def post(self, path, body, token=None, content_type="application/json"):
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        return self.request("POST", path, body=body, headers=headers)

    def assert_nothing_written(self):
        _, _, run = self.get("/api/v1/runs/" + self.waiting_id)
        qa = {s["id"]: s for s in run["steps"]}["qa"]
        self.assertEqual((run["status"], qa["status"], qa["check_offs"]),
                         ("waiting", "waiting", []))
        show = self.shipshape("--json", "show", self.waiting_id).json()
        qa = {s["id"]: s for s in show["steps"]}["qa"]
        self.assertEqual((qa["state"], qa["check_offs"]), ("waiting", []))

    def test_a_signed_step_refuses_an_unsigned_check_off_from_the_server(self):
        self.write("checklists/signed.toml", """
            name = "signed"
            [[step]]
            id = "qa"
            manual = "QA confirms, signed"
            role = "qa"
            signed = true
            """)
        r = self.shipshape("run", "checklists/signed.toml", "--env", "staging")
        self.assertEqual(r.code, 4, r)
        run_id = r.out.split("run ")[1].split()[0]
        status, _, doc = self.post(f"/api/v1/runs/{run_id}/steps/qa/check-off", b"{}",
                                   token=self.qa_token)
        self.assertEqual(status, 403, doc)
        self.assertIn("step 'qa' needs a signed check-off", doc["error"])
        show = self.shipshape("--json", "show", run_id).json()
        qa = {s["id"]: s for s in show["steps"]}["qa"]
        self.assertEqual((qa["state"], qa["check_offs"]), ("waiting", []))

    def test_a_check_off_needs_a_token_of_a_user_holding_the_role(self):
        status, resp, doc = self.post(self.check_off_path, b'{"note": "x"}')
        self.assertEqual(status, 401, doc)
        self.assertTrue(resp.getheader("WWW-Authenticate").startswith("Bearer"))
        self.assertIn("Authorization: Bearer TOKEN", doc["error"])
        status, _, doc = self.post(self.check_off_path, b'{"note": "x"}', token=self.dev_token)
        self.assertEqual(status, 403, doc)
        self.assertEqual(doc["error"], "user 'dana' does not hold the role 'qa' that step 'qa' "
                                       "needs (their roles: dev)")
        self.assert_nothing_written()

        status, _, doc = self.post(self.check_off_path, b'{"note": "tested on staging"}',
                                   token=self.qa_token)
        self.assertEqual(status, 200, doc)
        self.assertEqual({k: doc[k] for k in ("run", "step", "role", "by", "note")},
                         {"run": self.waiting_id, "step": "qa", "role": "qa", "by": "quinn",
                          "note": "tested on staging"})
        self.assertIsInstance(doc["at_ms"], int)
        show = self.shipshape("--json", "show", self.waiting_id).json()
        qa = {s["id"]: s for s in show["steps"]}["qa"]
        self.assertEqual(qa["state"], "checked-off")
        self.assertEqual([c["by"] for c in qa["check_offs"]], ["quinn"])

        status, _, doc = self.post(self.check_off_path, b"{}", token=self.qa_token)
        self.assertEqual(status, 409, doc)
        self.assertIn("already checked off by quinn", doc["error"])
        for path, reason in [("/api/v1/runs/nope/steps/qa/check-off", "no run 'nope'"),
                             (f"/api/v1/runs/{self.waiting_id}/steps/nope/check-off",
                              "has no step 'nope'")]:
            status, _, doc = self.post(path, b"{}", token=self.qa_token)
            self.assertEqual(status, 404, doc)
            self.assertIn(reason, doc["error"])

    def test_bad_bodies_and_names_are_4xx_with_a_reason_and_write_nothing(self):
        sql_step = urllib.parse.quote("qa' OR '1'='1", safe="")
        cases = [
            (self.check_off_path, b'{"note": ', 400, "not valid JSON"),
            (self.check_off_path, b'{"note": "x", "by": "mallory"}', 400, "unknown field 'by'"),
            (self.check_off_path, b'{"note": 42}', 400, '"note" must be a string'),
            (self.check_off_path, b'{"note": "\\u001b[2J"}', 400, "control character"),
            (self.check_off_path, json.dumps({"note": "x" * 4097}).encode(), 400, "limit is 4096"),
            (self.check_off_path, b"x" * (1024 * 1024 + 1), 413, "too large"),
            (f"/api/v1/runs/{self.waiting_id}/steps/{sql_step}/check-off", b"{}", 404,
             "has no step"),
            ("/api/v1/runs/" + urllib.parse.quote("1; DROP TABLE runs; --", safe="") +
             "/steps/qa/check-off", b"{}", 404, "no run"),
        ]
        for path, body, want, reason in cases:
            status, _, doc = self.post(path, body, token=self.qa_token)
            self.assertEqual(status, want, (path, body[:40], doc))
            self.assertIn(reason, doc["error"], (path, body[:40]))
        status, _, doc = self.post(self.check_off_path, b"{}", token=self.qa_token,
                                   content_type="text/plain")
        self.assertEqual(status, 400, doc)
        self.assertIn("Content-Type: application/json", doc["error"])
        status, resp, doc = self.request("GET", self.check_off_path)
        self.assertEqual((status, resp.getheader("Allow")), (405, "POST"), doc)
        self.assert_nothing_written()

    def test_me_and_a_revoked_token(self):
        headers = {"Authorization": "Bearer " + self.qa_token}
        status, _, doc = self.request("GET", "/api/v1/me", headers=headers)
        self.assertEqual((status, doc), (200, {"user": "quinn", "roles": ["qa"]}))
        status, _, doc = self.get("/api/v1/me")
        self.assertEqual(status, 401, doc)
        r = self.shipshape("user", "revoke", "quinn")
        self.assertEqual(r.code, 0, r)
        status, _, doc = self.request("GET", "/api/v1/me", headers=headers)
        self.assertEqual(status, 401, doc)
        self.assertIn("the token is not valid", doc["error"])
        status, _, doc = self.post(self.check_off_path, b"{}", token=self.qa_token)
        self.assertEqual(status, 401, doc)
        self.assert_nothing_written()
        r = self.shipshape("user", "list")
        self.assertRegex(r.out, r"quinn\s+qa\s+0\s+\d{4}-")  # it was used, then revoked

    def test_the_eleventh_bad_token_from_one_address_is_429(self):
        bad = "ssp_0000000000000000_" + "0" * 64
        for i in range(10):
            status, _, doc = self.post(self.check_off_path, b"{}", token=bad)
            self.assertEqual(status, 401, (i, doc))
        status, resp, doc = self.post(self.check_off_path, b"{}", token=bad)
        self.assertEqual(status, 429, doc)
        self.assertIn("too many failed authentications", doc["error"])
        self.assertTrue(1 <= int(resp.getheader("Retry-After")) <= 60)
        # While limited, even a good token from that address waits; nothing was written.
        status, _, _ = self.post(self.check_off_path, b"{}", token=self.qa_token)
        self.assertEqual(status, 429)
        self.assert_nothing_written()

    def test_every_route_that_needs_a_token_answers_as_documented(self):
        _, _, spec = self.get("/api/v1/openapi.json")
        schemas = spec["components"]["schemas"]
        called = 0
        for template, item in spec["paths"].items():
            for method, op in item.items():
                if "security" not in op or "{pipeline}" in template or "{host}" in template:
                    # a CI pipeline's cancel: src/server/ci_json_test.cpp covers it; a host's
                    # report: src/server/hosts_api_test.cpp and test_pull_reports.py
                    continue
                path = template.replace("{id}", self.waiting_id).replace("{step}", "qa")
                body = b'{"note": "ok"}' if method == "post" else None
                # Without a token: 401, as documented.
                status, _, _ = self.request(method.upper(), path, body=body,
                                            headers={"Content-Type": "application/json"})
                self.assertEqual(status, 401, template)
                self.assertIn("401", op["responses"], template)
                status, _, doc = self.request(
                    method.upper(), path, body=body,
                    headers={"Content-Type": "application/json",
                             "Authorization": "Bearer " + self.qa_token})
                self.assertEqual(status, 200, (template, doc))
                ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
                schema = schemas[ref.rsplit("/", 1)[-1]]
                self.assertLessEqual(set(schema["required"]), set(doc), template)
                called += 1
        self.assertGreaterEqual(called, 2)


class CliTokenPostgresTest(RepoTestCase):
    """`shipshape check-off` on a shared PostgreSQL store authenticates with SHIPSHAPE_TOKEN."""
    server = None
    unavailable = None

    @classmethod
    def setUpClass(cls):
        cls.server, cls.unavailable = start_for_tests("shipshape-e2e-pg-auth-")

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()

    def setUp(self):
        super().setUp()
        require(self, self.server is not None, f"a test PostgreSQL server: {self.unavailable}")
        self.env["SHIPSHAPE_STORE"] = self.server.createdb(f"auth_{os.getpid()}")
        self.env.pop("SHIPSHAPE_TOKEN", None)
        r = self.shipshape("store", "migrate")
        self.assertEqual(r.code, 0, r)
        self.write("checklists/deploy.toml", """
            name = "deploy"
            [[step]]
            id = "build"
            sh = "true"
            [[step]]
            id = "qa"
            manual = "QA confirms"
            role = "qa"
            needs = ["build"]
            """)

    def with_token(self, token):
        return dict(self.env, SHIPSHAPE_TOKEN=token)

    def test_check_off_acts_as_the_tokens_user_and_only_in_its_roles(self):
        for name, roles in [("quinn", "qa"), ("dana", "dev")]:
            self.assertEqual(self.shipshape("user", "add", name, "--roles", roles).code, 0)
        qa = self.shipshape("user", "token", "quinn").out.strip()
        dev = self.shipshape("user", "token", "dana").out.strip()
        r = self.shipshape("run", "checklists/deploy.toml", env=self.with_token(dev))
        self.assertEqual(r.code, 4, r)
        run_id = r.out.split("run ")[1].split()[0]
        self.assertEqual(self.shipshape("--json", "show", run_id).json()["run"]["user"], "dana")

        r = self.shipshape("check-off", run_id, "qa", "--as", "qa")
        self.assertEqual(r.code, 2, r)
        self.assertIn("SHIPSHAPE_TOKEN", r.err)
        r = self.shipshape("check-off", run_id, "qa", "--as", "qa", env=self.with_token("nonsense"))
        self.assertEqual(r.code, 2, r)
        self.assertIn("SHIPSHAPE_TOKEN: the token is not valid", r.err)
        r = self.shipshape("check-off", run_id, "qa", "--as", "qa", env=self.with_token(dev))
        self.assertEqual(r.code, 2, r)
        self.assertIn("user 'dana' (SHIPSHAPE_TOKEN) does not hold the role 'qa'", r.err)
        r = self.shipshape("check-off", run_id, "qa", "--as", "qa", "--by", "mallory",
                           env=self.with_token(qa))
        self.assertEqual(r.code, 2, r)
        self.assertIn("is not the user of SHIPSHAPE_TOKEN", r.err)
        show = self.shipshape("--json", "show", run_id).json()
        self.assertEqual({s["id"]: s for s in show["steps"]}["qa"]["check_offs"], [])

        r = self.shipshape("check-off", run_id, "qa", "--as", "qa", env=self.with_token(qa))
        self.assertEqual(r.code, 0, r)
        self.assertIn("by quinn", r.out)
        show = self.shipshape("--json", "show", run_id).json()
        self.assertEqual([c["by"] for c in {s["id"]: s for s in show["steps"]}["qa"]["check_offs"]],
                         ["quinn"])


if __name__ == "__main__":
    unittest.main()
