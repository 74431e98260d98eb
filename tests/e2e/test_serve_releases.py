"""GET /api/v1/releases of `shipshape serve`, black-box: releases made, signed off (keys made by
ssh-keygen, sign-offs signed by ssh-keygen -Y sign) and run through the real binary, then read
from the server: stages in order with their gates, who signed, the furthest stage reached, a
superseded id flagged, and a broken allowed_signers answered 500 with file:line:col."""
import json
import os
import shutil
import subprocess
import textwrap
import time

from harness import RepoTestCase
from test_serve import ServeTestCase


class ServeReleasesTest(ServeTestCase):
    def setUp(self):  # pylint: disable=super-init-not-called
        RepoTestCase.setUp(self)
        self.server = None
        if shutil.which("ssh-keygen") is None:
            self.fail("ssh-keygen (openssh-client) is not installed")
        self.write("shipshape.toml", textwrap.dedent("""\
            name = "test"
            [stage.qa]
            env = "local"
            [stage.staging]
            after = "qa"
            sign_offs = { qa = 2 }
            """))
        self.write("checklists/deploy.toml", textwrap.dedent("""\
            name = "deploy"
            [params.version]
            required = true
            [[step]]
            id = "install"
            sh = "echo installing {{version}}"
            """))
        self.keys = os.path.join(self.tmp, "keys")
        os.makedirs(self.keys)
        allowed = []
        for who in ("carol", "dan"):
            path = os.path.join(self.keys, who)
            subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-C", who, "-f", path],
                           check=True, capture_output=True)
            with open(path + ".pub") as f:
                allowed.append(f"{who}@example.org {f.read()}")
        self.write("allowed_signers", "".join(allowed))
        self.write("signers.toml", textwrap.dedent("""\
            [signers]
            qa = ["carol@example.org", "dan@example.org"]
            """))
        self.write("artifacts/booking.tar", "booking 1.0\n")
        self.write("artifacts/api.tar", "api 2.0\n")
        self.booking = self.create("booking-1.0", "artifacts/booking.tar", "1.0")
        r = self.shipshape("sign-off", "booking-1.0", "--stage", "staging", "--as", "qa", "--key",
                           os.path.join(self.keys, "carol"), "--note", "<b>looks good</b>")
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("run", "checklists/deploy.toml", "--env", "local", "--release",
                           "booking-1.0")
        self.assertEqual(r.code, 0, r)
        # api-2.0 twice: the artifact changed in between, so a new id supersedes the first.
        self.api_old = self.create("api-2.0", "artifacts/api.tar", "2.0")
        time.sleep(0.01)  # created_at is in ms: keep "newest first" unambiguous
        self.write("artifacts/api.tar", "api 2.0 rebuilt\n")
        self.api_new = self.create("api-2.0", "artifacts/api.tar", "2.0")
        self.start_server()

    def create(self, name, artifact, version):
        r = self.shipshape("release", "create", name, "--package", artifact, "--checklist",
                           "checklists/deploy.toml", "--set", f"version={version}")
        self.assertEqual(r.code, 0, r)
        return r.out.strip().splitlines()[-1]

    def test_every_release_with_its_gates_newest_name_first(self):
        status, _, doc = self.get("/api/v1/releases")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["stages"], [
            {"name": "qa", "env": "local", "after": None, "sign_offs": {}},
            {"name": "staging", "env": "staging", "after": "qa", "sign_offs": {"qa": 2}}])
        self.assertEqual([r["id"] for r in doc["releases"]],
                         [self.api_new, self.api_old, self.booking])
        new, old, booking = doc["releases"]
        # The superseded id is listed, flagged, and says its input changed.
        self.assertIsNone(new["superseded_by"])
        self.assertEqual(new["changed"], [])
        self.assertEqual(old["superseded_by"], self.api_new)
        self.assertTrue(old["changed"], old)
        self.assertIsNone(new["reached"])
        # booking-1.0 ran on qa's environment; staging has one of its two qa sign-offs.
        self.assertEqual(booking["name"], "booking-1.0")
        self.assertEqual(booking["short_id"], self.booking[:12])
        self.assertEqual(booking["reached"], "qa")
        self.assertTrue(booking["id_matches"])
        self.assertRegex(booking["created_at"], r"^\d{4}-\d\d-\d\dT")
        self.assertIsInstance(booking["created_at_ms"], int)
        self.assertTrue(booking["created_by"])
        qa, staging = booking["stages"]
        self.assertEqual((qa["name"], qa["env"], qa["run_done"], qa["ok"], qa["missing"]),
                         ("qa", "local", True, True, []))
        self.assertEqual(staging["name"], "staging")
        self.assertEqual(staging["sign_offs"], {"qa": 2})
        self.assertFalse(staging["run_done"])
        self.assertFalse(staging["ok"])
        self.assertEqual(staging["have"], {"qa": ["carol@example.org"]})
        self.assertIn("needs 1 more qa sign-off (have: carol@example.org)", staging["missing"])
        self.assertEqual((staging["rejected"], staging["voided"]), (0, 0))
        # The second qa sign-off opens the gate (the document is cached for at most 2 s).
        r = self.shipshape("sign-off", "booking-1.0", "--stage", "staging", "--as", "qa",
                           "--key", os.path.join(self.keys, "dan"))
        self.assertEqual(r.code, 0, r)
        deadline = time.monotonic() + 30
        while True:
            _, _, doc = self.get("/api/v1/releases")
            staging = doc["releases"][2]["stages"][1]
            if staging["ok"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertTrue(staging["ok"], staging)
        self.assertEqual(staging["have"], {"qa": ["carol@example.org", "dan@example.org"]})
        self.assertEqual(staging["missing"], [])
        # Reads only: the route takes no query and answers GET alone.
        self.assert_error(400, "/api/v1/releases?x=1", contains="no query parameters")
        self.assert_error(405, "/api/v1/releases", method="POST", body=b"{}")

    def test_a_broken_allowed_signers_is_500_naming_the_place(self):
        self.stop_server()
        self.write("allowed_signers", "carol@example.org not-a-key-type AAAA\n")
        self.start_server()
        doc = self.assert_error(500, "/api/v1/releases", contains="allowed_signers:1:")
        self.assertNotIn("Traceback", json.dumps(doc))


if __name__ == "__main__":
    import unittest
    unittest.main()
