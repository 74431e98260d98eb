"""Releases, stages and signed sign-offs (#17), end to end through the real binary: keys made by
ssh-keygen, sign-offs signed by ssh-keygen -Y sign, runs recorded in the real SQLite store.

The walkthrough of the README: a release refused on prod with the missing sign-offs named,
signed off by each role, voided by a checklist change, signed again and run. Then each way a
sign-off can fail to count, through the CLI, and what the release id is bound to."""
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import textwrap
import unittest

from harness import RepoTestCase, require
from pgserver import start_for_tests

CHECKLIST = textwrap.dedent("""\
    name = "deploy"
    [params.version]
    required = true
    [[step]]
    id = "install"
    sh = "echo installing {{version | sh}}"
    """)


class ReleaseTestCase(RepoTestCase):
    def setUp(self):
        super().setUp()
        if shutil.which("ssh-keygen") is None:
            self.fail("ssh-keygen (openssh-client) is not installed")
        self.write("shipshape.toml", textwrap.dedent("""\
            name = "test"
            [stage.qa]
            env = "local"
            [stage.staging]
            after = "qa"
            [stage.prod]
            after = "staging"
            sign_offs = { qa = 2, ops = 1, dev = 1 }
            """))
        self.write("inventory.toml", textwrap.dedent("""\
            [env.local]
            hosts = ["localhost"]
            [env.staging]
            hosts = ["stage1"]
            [env.prod]
            hosts = ["prod1"]
            [host.stage1]
            address = "127.0.0.2"
            [host.prod1]
            address = "127.0.0.3"
            """))
        self.write("checklists/deploy.toml", CHECKLIST)
        self.keys = os.path.join(self.tmp, "keys")
        os.makedirs(self.keys)
        allowed = []
        for who in ("carol", "dan", "olga", "devi", "mallory"):
            path = os.path.join(self.keys, who)
            subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-C", who, "-f", path],
                           check=True, capture_output=True)
            if who != "mallory":
                with open(path + ".pub") as f:
                    allowed.append(f"{who}@example.org {f.read()}")
        self.write("allowed_signers", "".join(allowed))
        self.write("signers.toml", textwrap.dedent("""\
            [signers]
            qa = ["carol@example.org", "dan@example.org"]
            ops = ["olga@example.org"]
            dev = ["devi@example.org"]
            """))
        self.write("artifacts/booking.tar", "booking 1.4.3\n")

    def create(self, *extra):
        r = self.shipshape("release", "create", "booking-1.4.3", "--package",
                           "artifacts/booking.tar", "--checklist", "checklists/deploy.toml",
                           "--set", "version=1.4.3", *extra)
        self.assertEqual(r.code, 0, r)
        rid = r.out.strip().splitlines()[-1]
        self.assertRegex(rid, r"^[0-9a-f]{64}$", r)
        return rid

    def sign(self, who, role, stage="prod", release="booking-1.4.3"):
        return self.shipshape("sign-off", release, "--stage", stage, "--as", role, "--key",
                              os.path.join(self.keys, who), "--note", f"{who} checked")

    def run_on(self, env, release="booking-1.4.3"):
        return self.shipshape("run", "checklists/deploy.toml", "--env", env, "--release", release)

    def sign_all(self):
        for who, role in (("carol", "qa"), ("dan", "qa"), ("olga", "ops"), ("devi", "dev")):
            r = self.sign(who, role)
            self.assertEqual(r.code, 0, r)

    def signoff_files(self):
        return sorted(glob.glob(os.path.join(self.repo, "signoffs", "booking-1.4.3", "*.json")))


class WalkthroughTest(ReleaseTestCase):
    def test_refused_signed_voided_signed_again_and_run(self):
        rid = self.create()
        # 3. The prod run is refused, naming what is missing; nothing runs.
        r = self.run_on("prod")
        self.assertEqual(r.code, 5, r)
        self.assertIn("needs 2 more qa sign-offs (have: none)", r.err)
        self.assertIn("needs 1 more ops sign-off (have: none)", r.err)
        self.assertIn("staging run not finished", r.err)
        self.assertNotIn("installing", r.out)
        self.assertEqual(self.shipshape("--json", "runs").json()["runs"], [])
        # The earlier stages: qa has no gate, staging needs qa's run of this release.
        self.assertEqual(self.run_on("staging").code, 5)
        self.assertEqual(self.run_on("local").code, 0)
        r = self.run_on("staging")
        self.assertEqual(r.code, 0, r)
        # 4. Sign off as each role; one qa sign-off short, the gate names who signed.
        for who, role in (("carol", "qa"), ("olga", "ops"), ("devi", "dev")):
            r = self.sign(who, role)
            self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, r"audit: #\d+ [0-9a-f]{8}…")
        r = self.run_on("prod")
        self.assertEqual(r.code, 5, r)
        self.assertIn("needs 1 more qa sign-off (have: carol@example.org)", r.err)
        self.assertNotIn("staging run not finished", r.err)
        r = self.sign("dan", "qa")
        self.assertEqual(r.code, 0, r)
        self.assertIn("prod: every gate holds", r.out)
        self.assertEqual(self.shipshape("release", "verify", "booking-1.4.3", "--stage",
                                        "prod").code, 0)
        # 5. A change to the checklist voids them: refused, saying what changed.
        self.write("checklists/deploy.toml", CHECKLIST + "# changed after sign-off\n")
        r = self.run_on("prod")
        self.assertEqual(r.code, 5, r)
        self.assertRegex(r.err, r"checklist changed: checklists/deploy.toml sha256 [0-9a-f]{12}… "
                                r"→ [0-9a-f]{12}…")
        shown = self.shipshape("release", "show", rid[:12])
        self.assertEqual(shown.code, 0, shown)
        self.assertIn("changed since the release was made", shown.out)
        v = self.shipshape("release", "verify", "booking-1.4.3", "--stage", "prod")
        self.assertEqual(v.code, 1, v)
        self.assertIn("checklist changed", v.err)
        new = self.create()
        self.assertNotEqual(new, rid)
        r = self.run_on("prod")
        self.assertEqual(r.code, 5, r)
        self.assertIn("needs 2 more qa sign-offs (have: none)", r.err)
        self.assertEqual(r.err.count("(voided)"), 4, r.err)
        # 6. The new id goes through the stages and is signed again; prod runs.
        self.assertEqual(self.run_on("local").code, 0)
        self.assertEqual(self.run_on("staging").code, 0)
        self.sign_all()
        r = self.run_on("prod")
        self.assertEqual(r.code, 0, r)
        self.assertIn("installing 1.4.3", r.out + self.shipshape("show", "last").out)
        listed = self.shipshape("--json", "release", "list").json()["releases"]
        self.assertEqual([x["id"] for x in listed], [new, rid])
        self.assertEqual(listed[0]["reached"], "prod")
        self.assertEqual(listed[1]["superseded_by"], new)
        # 7. The ledger holds the releases and every sign-off, signature included; one row
        # edited by hand is caught by audit verify.
        self.assertEqual(self.shipshape("audit", "verify").code, 0)
        db = sqlite3.connect(os.path.join(self.repo, ".shipshape", "state.db"))
        rows = db.execute("SELECT seq, kind, subject, detail FROM audit "
                          "WHERE kind IN ('release', 'sign-off') ORDER BY seq").fetchall()
        self.assertEqual([r[1] for r in rows].count("release"), 2)
        signoffs = [r for r in rows if r[1] == "sign-off"]
        self.assertEqual(len(signoffs), 8)
        self.assertTrue(all("BEGIN SSH SIGNATURE" in r[3] for r in signoffs))
        seq = signoffs[0][0]
        db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = ?", (seq,))
        db.commit()
        db.close()
        v = self.shipshape("audit", "verify")
        self.assertEqual(v.code, 1, v)
        self.assertIn(f"entry {seq}: its hash does not match its content", v.out + v.err)

    def test_json_documents(self):
        r = self.shipshape("--json", "release", "create", "booking-1.4.3", "--checklist",
                           "checklists/deploy.toml", "--set", "version=1.4.3")
        self.assertEqual(r.code, 0, r)
        doc = r.json()
        self.assertRegex(doc["id"], r"^[0-9a-f]{64}$")
        self.assertEqual(doc["document"]["params"], {"version": "1.4.3"})
        r = self.shipshape("--json", "run", "checklists/deploy.toml", "--env", "prod",
                           "--release", doc["id"][:10])
        self.assertEqual(r.code, 5, r)
        refused = r.json()
        self.assertEqual(refused["error"], "gated")
        self.assertIn("staging run not finished", refused["gate"]["missing"])


class RejectionTest(ReleaseTestCase):
    def test_sign_offs_that_would_not_count_are_refused_and_nothing_is_written(self):
        self.create()
        cases = [
            (self.sign("mallory", "qa"), "signer not allowed: key SHA256:"),
            (self.sign("olga", "qa"), "signer lacks the role: olga@example.org does not hold "
                                      "role 'qa'"),
        ]
        for r, reason in cases:
            self.assertEqual(r.code, 3, r)
            self.assertIn(reason, r.err)
            self.assertIn("nothing was recorded", r.err)
        self.assertEqual(self.signoff_files(), [])
        r = self.sign("carol", "release-manager")
        self.assertEqual(r.code, 2, r)
        self.assertIn("stage 'prod' asks for no 'release-manager' sign-off", r.err)
        r = self.sign("carol", "qa", stage="canary")
        self.assertEqual(r.code, 2, r)
        self.assertIn("no stage 'canary' in shipshape.toml (stages: qa, staging, prod)", r.err)
        self.assertEqual(self.sign("carol", "qa").code, 0)
        r = self.sign("carol", "qa")
        self.assertEqual(r.code, 2, r)
        self.assertIn("carol@example.org has already signed off", r.err)
        self.assertEqual(len(self.signoff_files()), 1)

    def test_forged_replayed_and_garbled_files_are_not_counted(self):
        self.create()
        self.sign_all()
        self.assertEqual(self.shipshape("release", "verify", "booking-1.4.3", "--stage", "prod",
                                        "--offline").code, 0)
        files = self.signoff_files()
        by_role = {json.load(open(f))["role"] + json.load(open(f))["note"]: f for f in files}
        carol = by_role["qacarol checked"]
        with open(carol) as f:
            doc = json.load(f)
        # A replay: carol's qa signature offered as an ops sign-off, and for another stage.
        forged = dict(doc, role="ops")
        os.remove(by_role["opsolga checked"])
        with open(carol.replace(".json", "-forged.json"), "w") as f:
            json.dump(forged, f)
        v = self.shipshape("release", "verify", "booking-1.4.3", "--stage", "prod", "--offline")
        self.assertEqual(v.code, 1, v)
        self.assertIn("needs 1 more ops sign-off (have: none)", v.err)
        self.assertIn("signature does not match what it claims to sign", v.out)
        # Garbled and truncated signatures.
        garbled = dict(doc, signature=doc["signature"].replace("A", "B", 3))
        truncated = dict(doc, signature=doc["signature"][:120])
        for name, d in (("garbled", garbled), ("truncated", truncated)):
            with open(carol.replace(".json", f"-{name}.json"), "w") as f:
                json.dump(d, f)
        with open(carol.replace(".json", "-broken.json"), "w") as f:
            f.write("{not json")
        shown = self.shipshape("release", "show", "booking-1.4.3", "--offline")
        self.assertEqual(shown.code, 0, shown)
        self.assertIn("garbled signature", shown.out)
        self.assertRegex(shown.out, r"-truncated.json: (garbled signature|signature does not)")
        # Duplicate signer: carol's own sign-off copied counts once.
        shutil.copy(carol, carol.replace(".json", "-copy.json"))
        shown = self.shipshape("--json", "release", "show", "booking-1.4.3", "--offline").json()
        prod = [s for s in shown["stages"] if s["name"] == "prod"][0]
        self.assertEqual(prod["have"]["qa"], ["carol@example.org", "dan@example.org"])
        reasons = " | ".join(r["reason"] for r in prod["rejected"])
        self.assertIn("duplicate signer: carol@example.org already signed as qa", reasons)

    def test_expired_key_and_bad_trust_files(self):
        self.create()
        with open(os.path.join(self.keys, "carol.pub")) as f:
            carol = f.read()
        allowed = self.read("allowed_signers")
        self.write("allowed_signers", allowed.replace(
            f"carol@example.org {carol}", f"carol@example.org valid-before=20200101Z {carol}"))
        r = self.sign("carol", "qa")
        self.assertEqual(r.code, 3, r)
        self.assertIn("was not valid when it signed", r.err)
        self.write("allowed_signers", allowed + "dan@example.org frobnicate=1 " + carol)
        r = self.sign("dan", "qa")
        self.assertEqual(r.code, 2, r)
        self.assertRegex(r.err, r"allowed_signers:5:17: unknown option 'frobnicate'")
        self.write("allowed_signers", allowed)
        self.write("signers.toml", "[signers]\nqa = \"carol@example.org\"\n")
        r = self.sign("carol", "qa")
        self.assertEqual(r.code, 2, r)
        self.assertRegex(r.err, r"signers.toml:2:6: ")
        self.assertEqual(self.signoff_files(), [])


class ValidateTest(ReleaseTestCase):
    def test_validate_checks_who_may_sign(self):
        r = self.shipshape("validate")
        self.assertEqual(r.code, 0, r)
        self.write("signers.toml", "[signers]\nqa = [\"carol@example.org\"]\n")
        r = self.shipshape("validate")
        self.assertEqual(r.code, 2, r)
        self.assertRegex(r.err, r"shipshape.toml:6:8: stage 'prod' asks for 1 'ops' sign-off, "
                                r"but signers.toml gives nobody that role")
        self.write("allowed_signers", "carol@example.org ssh-ed25519 AAAA!!\n")
        r = self.shipshape("validate")
        self.assertEqual(r.code, 2, r)
        self.assertIn("allowed_signers:1:19: ", r.err)
        os.remove(os.path.join(self.repo, "allowed_signers"))
        r = self.shipshape("validate")
        self.assertEqual(r.code, 2, r)
        self.assertIn("sign-offs need allowed_signers", r.err)


class ReleaseIdTest(ReleaseTestCase):
    def test_the_id_is_bound_to_every_input(self):
        rid = self.create()
        r = self.shipshape("release", "create", "booking-1.4.3", "--package",
                           "artifacts/booking.tar", "--checklist", "checklists/deploy.toml",
                           "--set", "version=1.4.3")
        self.assertIn("the same content was released before", r.out)
        self.assertEqual(r.out.strip().splitlines()[-1], rid)
        ids = {rid}
        changes = [
            lambda: self.write("artifacts/booking.tar", "booking 1.4.3 rebuilt\n"),
            lambda: self.write("requirements.toml", "[memory]\navailable = \"64MiB\"\n"),
            lambda: self.write("shipshape.toml", self.read("shipshape.toml").replace(
                'name = "test"', 'name = "test"\n[roles]\nweb = ["states/web.toml"]') or None),
        ]
        self.write("states/web.toml", "")
        for change in changes:
            change()
            new = self.create()
            self.assertNotIn(new, ids)
            ids.add(new)
        r = self.shipshape("release", "create", "booking-1.4.3", "--package",
                           "artifacts/booking.tar", "--checklist", "checklists/deploy.toml",
                           "--set", "version=1.4.4")
        self.assertNotIn(r.out.strip().splitlines()[-1], ids)
        self.assertIn("param version changed: '1.4.3' → '1.4.4'", r.out)

    def test_an_edited_record_is_caught(self):
        rid = self.create()
        path = os.path.join(self.repo, "releases", "booking-1.4.3", rid + ".json")
        with open(path) as f:
            rec = json.load(f)
        rec["document"]["params"]["version"] = "9.9.9"
        with open(path, "w") as f:
            json.dump(rec, f)
        v = self.shipshape("release", "verify", "booking-1.4.3", "--offline")
        self.assertEqual(v.code, 1, v)
        self.assertIn("the release record was edited", v.err)

    def test_a_deb_is_bound_by_its_manifest_and_bytes(self):
        if shutil.which("dpkg-deb") is None:
            self.fail("dpkg-deb is not installed")
        root = os.path.join(self.tmp, "pkg")
        os.makedirs(os.path.join(root, "DEBIAN"))
        os.makedirs(os.path.join(root, "usr", "share", "booking"))
        with open(os.path.join(root, "DEBIAN", "control"), "w") as f:
            f.write("Package: booking\nVersion: 1.4.3\nArchitecture: all\n"
                    "Maintainer: t <t@example.org>\nDescription: test\n")
        with open(os.path.join(root, "usr", "share", "booking", "VERSION"), "w") as f:
            f.write("1.4.3\n")
        deb = os.path.join(self.repo, "artifacts", "booking_1.4.3_all.deb")
        subprocess.run(["dpkg-deb", "--root-owner-group", "-b", root, deb], check=True,
                       capture_output=True)
        r = self.shipshape("--json", "release", "create", "booking-1.4.3", "--package",
                           "artifacts/booking_1.4.3_all.deb", "--checklist",
                           "checklists/deploy.toml", "--set", "version=1.4.3")
        self.assertEqual(r.code, 0, r)
        pkg = r.json()["document"]["packages"][0]
        self.assertEqual((pkg["package"], pkg["version"], pkg["architecture"]),
                         ("booking", "1.4.3", "all"))
        self.assertRegex(pkg["manifest_sha256"], r"^[0-9a-f]{64}$")

    def test_bad_names_and_missing_inputs(self):
        r = self.shipshape("release", "create", "../evil", "--checklist",
                           "checklists/deploy.toml")
        self.assertEqual(r.code, 2, r)
        self.assertIn("release name '../evil'", r.err)
        r = self.shipshape("release", "create", "x", "--checklist", "checklists/nope.toml")
        self.assertEqual(r.code, 2, r)
        self.assertIn("the checklist", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "releases")))
        r = self.shipshape("release", "show", "nope")
        self.assertEqual(r.code, 2, r)
        self.assertIn("no release 'nope'", r.err)
        r = self.run_on("prod", release="nope")
        self.assertEqual(r.code, 2, r)


class SignedCheckOffTest(ReleaseTestCase):
    def test_a_signed_step_takes_only_a_valid_signature_of_its_role(self):
        self.write("checklists/gate.toml", textwrap.dedent("""\
            name = "gate"
            [[step]]
            id = "qa-ok"
            manual = "QA confirms the smoke tests"
            role = "qa"
            signed = true
            [[step]]
            id = "after"
            sh = "echo after"
            needs = ["qa-ok"]
            """))
        r = self.shipshape("run", "checklists/gate.toml")
        self.assertEqual(r.code, 4, r)
        r = self.shipshape("check-off", "last", "qa-ok", "--as", "qa", "--by", "carol")
        self.assertEqual(r.code, 2, r)
        self.assertIn("step 'qa-ok' needs a signed check-off", r.err)
        key = lambda who: os.path.join(self.keys, who)  # noqa: E731
        r = self.shipshape("check-off", "last", "qa-ok", "--as", "qa", "--key", key("olga"))
        self.assertEqual(r.code, 2, r)
        self.assertIn("signer lacks the role: olga@example.org does not hold role 'qa'", r.err)
        r = self.shipshape("check-off", "last", "qa-ok", "--as", "qa", "--key", key("mallory"))
        self.assertEqual(r.code, 2, r)
        self.assertIn("signer not allowed", r.err)
        r = self.shipshape("check-off", "last", "qa-ok", "--as", "qa", "--key", key("dan"),
                           "--note", "smoke ok")
        self.assertEqual(r.code, 0, r)
        self.assertIn("by dan@example.org", r.out)
        run_id = self.shipshape("--json", "runs").json()["runs"][0]["id"]
        with open(os.path.join(self.repo, "signoffs", "runs", run_id, "qa-ok.json")) as f:
            signed = json.load(f)
        self.assertEqual((signed["step"], signed["role"], signed["note"]),
                         ("qa-ok", "qa", "smoke ok"))
        self.assertIn("BEGIN SSH SIGNATURE", signed["signature"])
        self.assertEqual(self.shipshape("resume", run_id).code, 0)

    def test_signed_only_on_manual_steps(self):
        self.write("checklists/bad.toml",
                   'name = "bad"\n[[step]]\nid = "a"\nrun = ["true"]\nsigned = true\n')
        r = self.shipshape("validate", "checklists/bad.toml")
        self.assertEqual(r.code, 2, r)
        self.assertIn("bad.toml:5:10: step 'a': 'signed' applies only to manual steps", r.err)


class PostgresReleaseTest(ReleaseTestCase):
    """The same gates on a PostgreSQL store (a team's): the journal that says a stage's run
    finished, and the ledger that keeps the release and its sign-offs, are the server's."""
    server = None
    unavailable = None

    @classmethod
    def setUpClass(cls):
        cls.server, cls.unavailable = start_for_tests("shipshape-e2e-release-pg-")

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()

    def setUp(self):
        super().setUp()
        require(self, self.server is not None, f"a test PostgreSQL server: {self.unavailable}")
        self.env["SHIPSHAPE_STORE"] = self.server.createdb(f"release_{os.getpid()}")
        self.assertEqual(self.shipshape("store", "migrate").code, 0)

    def test_gates_on_a_shared_store(self):
        self.create()
        self.assertEqual(self.run_on("prod").code, 5)
        self.assertEqual(self.run_on("local").code, 0)
        self.assertEqual(self.run_on("staging").code, 0)
        self.sign_all()
        r = self.run_on("prod")
        self.assertEqual(r.code, 0, r)
        # A second working copy of the ops repo sees the stages done through the shared store.
        other = os.path.join(self.tmp, "other")
        shutil.copytree(self.repo, other, ignore=shutil.ignore_patterns(".shipshape"))
        shown = self.shipshape("--json", "release", "show", "booking-1.4.3", cwd=other).json()
        self.assertEqual(shown["reached"], "prod")


if __name__ == "__main__":
    unittest.main()
