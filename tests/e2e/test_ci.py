"""shipshape ci (#19), black-box: `ci run` in a working tree (uncommitted changes, the failing
test named, --rerun-failed, the sandbox keeping writes in the workspace, invalid definitions),
and the push path on SQLite: a bare repository with the hook, `ci worker --once`, `ci status`,
the git note, a broken test and its fix, an invalid .shipshape-ci.toml, faults fired."""
import os
import subprocess
import time

import ci_app
import lab_image
from harness import BIN, RepoTestCase, require


class CiTestCase(RepoTestCase):
    def setUp(self):
        super().setUp()
        self.app = ci_app.make_app(os.path.join(self.tmp, "app"))
        self.store = os.path.join(self.tmp, "ci.db")
        self.env["SHIPSHAPE_STORE"] = self.store

    def ci(self, *args, cwd=None, timeout=120):
        return self.shipshape("ci", *args, cwd=cwd or self.app, timeout=timeout)

    def ci_json(self, *args, cwd=None):
        r = self.shipshape("--json", "ci", *args, cwd=cwd or self.app)
        self.assertIn(r.code, (0, 1), r)
        return r.json()


class CiRunTest(CiTestCase):
    def test_local_run_passes_then_names_the_failing_test_of_an_uncommitted_change(self):
        r = self.ci("run")
        self.assertEqual(r.code, 0, r)
        self.assertIn("passed", r.out)
        self.assertIn("test", r.out)
        # The working tree as it is, not HEAD: an uncommitted bug fails the run.
        ci_app.write(self.app, "calc.py", ci_app.CALC_BROKEN_ADD)
        r = self.ci("run")
        self.assertEqual(r.code, 1, r)
        self.assertIn("at test calc.test_add", r.out)
        self.assertIn("add(2, 3) should be 5, got -1", r.out)
        doc = self.ci_json("status")
        self.assertEqual(doc[0]["status"], "failed")
        job = doc[0]["jobs"][0]
        self.assertEqual((job["name"], job["status"], job["failing"]),
                         ("test", "failed", "test calc.test_add"))
        self.assertEqual(job["tests"], {"passed": 1, "failed": 1, "errors": 0, "skipped": 0})
        self.assertEqual(doc[0]["ref"], "working-tree")
        self.assertEqual(doc[1]["status"], "passed")
        # The working tree itself is untouched: no results written into it, the index as it was.
        self.assertFalse(os.path.exists(os.path.join(self.app, "test-results")))
        st = ci_app.git(self.app, "status", "--porcelain").stdout
        self.assertEqual(st.strip(), "M calc.py")
        # The step output is in the store: ci log by run id.
        log = self.ci("log", job["run_id"])
        self.assertEqual(log.code, 0, log)
        self.assertIn("FAIL test_add", log.out)

    def test_the_sandbox_keeps_writes_in_the_workspace(self):
        outside = os.path.join(self.tmp, "outside.txt")
        ci_app.write(self.app, "ci/test.toml", f'''\
name = "escape"
[[step]]
id = "write"
sh = "echo escaped > {outside}; echo inside > kept.txt; echo tmp > /tmp/ci-probe; cat {outside}"
[[step]]
id = "check"
needs = ["write"]
sh = "test -f kept.txt && test -f /tmp/ci-probe"
[[step]]
id = "no-way-out"
needs = ["write"]
sh = "! mknod disk b 8 0 2>/dev/null && ! mount -t tmpfs t /mnt 2>/dev/null && ! (echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null"
''')
        ci_app.write(self.app, ".shipshape-ci.toml",
                     '[job.test]\nchecklist = "ci/test.toml"\nartifacts = ["kept.txt"]\n')
        r = self.ci("run")
        self.assertEqual(r.code, 0, r)
        # The command saw its own write (an overlay over this machine's root), but nothing
        # reached the real file system outside the workspace.
        self.assertFalse(os.path.exists(outside), "a job wrote outside its workspace")
        self.assertFalse(os.path.exists("/tmp/ci-probe"))
        job = self.ci_json("status")[0]["jobs"][0]
        self.assertEqual(len(job["artifacts"]), 1, job)
        kept = os.path.join(self.tmp, "ci-artifacts", job["artifacts"][0])
        with open(kept) as f:
            self.assertEqual(f.read(), "inside\n")

    def test_rerun_failed_runs_only_what_failed(self):
        ci_app.write(self.app, "ci/test.toml", '''\
name = "flaky"
[[step]]
id = "build"
sh = "echo building"
[[step]]
id = "flaky"
needs = ["build"]
sh = "test -f fixed"
''')
        r = self.ci("run")
        self.assertEqual(r.code, 1, r)
        self.assertIn("at step flaky", r.out)
        ci_app.write(self.app, "fixed", "")
        r = self.shipshape("--json", "ci", "run", "--rerun-failed", cwd=self.app)
        self.assertEqual(r.code, 0, r)
        rerun = r.json()["jobs"][0]
        log = self.ci("log", rerun["run_id"])
        self.assertNotIn("building", log.out)  # build completed last time: not run again
        # A second --rerun-failed has nothing failed left to run.
        r = self.ci("run", "--rerun-failed")
        self.assertEqual(r.code, 0, r)
        self.assertIn("test passed in pipeline", r.out)

    def test_invalid_definition_names_file_line_column_and_runs_nothing(self):
        ci_app.write(self.app, ".shipshape-ci.toml",
                     '[job.test]\nchecklist = "ci/test.toml"\nimage = 3\n')
        r = self.ci("run")
        self.assertEqual(r.code, 2, r)
        self.assertIn(".shipshape-ci.toml:3:", r.err)
        self.assertEqual(self.ci_json("status"), [])

    def test_unknown_job_and_unknown_image(self):
        r = self.ci("run", "nope")
        self.assertEqual(r.code, 2, r)
        self.assertIn("nope", r.err)
        ci_app.write(self.app, ".shipshape-ci.toml",
                     '[job.test]\nchecklist = "ci/test.toml"\nimage = "no-such-image"\n')
        r = self.ci("run")
        self.assertEqual(r.code, 1, r)
        self.assertIn("image 'no-such-image'", r.out)

    def test_requirements_are_checked_first_and_name_the_need(self):
        ci_app.write(self.app, "requirements.toml",
                     '[[package]]\nname = "no-such-package-here"\nversion = ">= 1.0"\n')
        ci_app.write(self.app, ".shipshape-ci.toml", '[job.test]\nchecklist = "ci/test.toml"\n'
                                                     'requirements = "requirements.toml"\n')
        r = self.ci("run")
        self.assertEqual(r.code, 1, r)
        self.assertIn("at requirements", r.out)
        self.assertIn("no-such-package-here", r.out)
        self.assertEqual(self.ci_json("status")[0]["jobs"][0]["run_id"], "")  # nothing ran
        ci_app.write(self.app, "requirements.toml",
                     '[[package]]\nname = "git"\nversion = ">= 1.0"\n')
        self.assertEqual(self.ci("run").code, 0)

    def test_a_job_timeout_stops_it(self):
        ci_app.write(self.app, "ci/test.toml",
                     'name = "slow"\n[[step]]\nid = "slow"\nsh = "sleep 30"\n')
        ci_app.write(self.app, ".shipshape-ci.toml",
                     '[job.test]\nchecklist = "ci/test.toml"\ntimeout = "1s"\n')
        t0 = time.monotonic()
        r = self.ci("run")
        self.assertEqual(r.code, 1, r)
        self.assertLess(time.monotonic() - t0, 25)  # stopped, not waited out
        self.assertIn("at timeout", r.out)

    def test_outside_a_working_tree(self):
        r = self.shipshape("ci", "run", cwd=self.tmp)
        self.assertEqual(r.code, 2, r)
        self.assertIn("not in a git working tree", r.err)


class CiPushBase(CiTestCase):
    def setUp(self):
        super().setUp()
        self.bare = os.path.join(self.tmp, "app.git")
        ci_app.git(self.tmp, "init", "-q", "--bare", "-b", "main", self.bare)
        r = self.shipshape("ci", "hook", "install", self.bare, cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        ci_app.git(self.app, "remote", "add", "origin", self.bare)

    def push(self):
        t0 = time.monotonic()
        r = ci_app.git(self.app, "push", "-q", "origin", "HEAD:refs/heads/main")
        return r, time.monotonic() - t0

    def worker_once(self):
        r = self.shipshape("ci", "worker", "--once", cwd=self.tmp, timeout=300)
        self.assertEqual(r.code, 0, r)
        return r



class CiPushTest(CiPushBase):
    def test_push_fail_named_then_fix_passes_with_git_notes(self):
        ci_app.write(self.app, "calc.py", ci_app.CALC_BROKEN_ADD)
        broken = ci_app.commit_all(self.app, "a bug")
        r, _ = self.push()
        self.assertIn("pipeline 1 queued (1 job)", r.stderr)  # "remote: shipshape-ci: ..."
        queued = self.ci_json("status", broken[:10], cwd=self.tmp)
        self.assertEqual(queued["status"], "queued")
        self.worker_once()
        doc = self.ci_json("status", broken, cwd=self.tmp)
        self.assertEqual(doc["status"], "failed", doc)
        self.assertEqual(doc["commit"], broken)
        self.assertEqual(doc["ref"], "refs/heads/main")
        self.assertEqual(doc["jobs"][0]["failing"], "test calc.test_add")
        self.assertEqual(doc["jobs"][0]["failed_tests"][0]["name"], "calc.test_add")
        notes = ci_app.git(self.bare, "log", "--notes=shipshape-ci", "-1", broken).stdout
        self.assertIn("shipshape-ci: failed (pipeline 1)", notes)
        self.assertIn("test: failed at test calc.test_add", notes)

        ci_app.write(self.app, "calc.py", ci_app.CALC)
        fixed = ci_app.commit_all(self.app, "the fix")
        self.push()
        self.worker_once()
        r = self.shipshape("ci", "status", "main", "--wait", cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        self.assertIn("passed", r.out)
        self.assertEqual(self.ci_json("status", fixed, cwd=self.tmp)["status"], "passed")
        notes = ci_app.git(self.bare, "log", "--notes=shipshape-ci", "-1", fixed).stdout
        self.assertIn("shipshape-ci: passed (pipeline 2)", notes)

    def test_invalid_definition_is_a_failed_pipeline_with_the_position(self):
        ci_app.write(self.app, ".shipshape-ci.toml", '[job.test]\nchecklist = "ci/test.toml"\n'
                                                     'timeout = "soon"\n')
        commit = ci_app.commit_all(self.app, "bad ci file")
        r, _ = self.push()
        self.assertIn("failed: .shipshape-ci.toml:3:", r.stderr)
        doc = self.ci_json("status", commit, cwd=self.tmp)
        self.assertEqual(doc["status"], "failed")
        self.assertIn(".shipshape-ci.toml:3:", doc["reason"])
        self.assertEqual(doc["jobs"], [])
        r = self.worker_once()
        self.assertIn("0 passed, 0 failed", r.out)  # nothing to run

    def test_enqueue_by_hand_from_a_working_tree(self):
        head = ci_app.git(self.app, "rev-parse", "HEAD").stdout.strip()
        r = self.shipshape("ci", "enqueue", "--repo", self.app, "--ref", "refs/heads/main", head,
                           cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        self.assertIn("pipeline 1 queued (1 job)", r.out)
        self.worker_once()
        self.assertEqual(self.ci_json("status", head, cwd=self.tmp)["status"], "passed")
        notes = ci_app.git(self.app, "log", "--notes=shipshape-ci", "-1").stdout
        self.assertIn("shipshape-ci: passed (pipeline 1)", notes)

    def test_a_hook_that_is_not_ours_is_kept(self):
        other = os.path.join(self.tmp, "other.git")
        ci_app.git(self.tmp, "init", "-q", "--bare", other)
        with open(os.path.join(other, "hooks", "post-receive"), "w") as f:
            f.write("#!/bin/sh\necho mine\n")
        r = self.shipshape("ci", "hook", "install", other, cwd=self.tmp)
        self.assertEqual(r.code, 2, r)
        self.assertIn("is not shipshape's", r.err)
        with open(os.path.join(other, "hooks", "post-receive")) as f:
            self.assertEqual(f.read(), "#!/bin/sh\necho mine\n")
        r = self.shipshape("ci", "hook", "install", os.path.join(self.tmp, "nope.git"),
                           cwd=self.tmp)
        self.assertEqual(r.code, 2, r)
        self.assertIn("is not a bare git repository", r.err)


class CiQueueTest(CiPushBase):
    def worker(self, *args):
        return subprocess.Popen([BIN, "ci", "worker", *args], cwd=self.tmp, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    def test_cancel_stops_a_running_job(self):
        ci_app.write(self.app, "ci/test.toml",
                     'name = "slow"\n[[step]]\nid = "slow"\nsh = "echo begun; sleep 60"\n')
        commit = ci_app.commit_all(self.app, "slow")
        self.push()
        w = self.worker("--lease", "600ms")
        try:
            self.wait_for(lambda: self.ci_json("status", commit, cwd=self.tmp)["status"]
                          == "running", what="the job to run")
            follow = subprocess.Popen([BIN, "ci", "log", "1", "--follow"], cwd=self.tmp,
                                      env=self.env, stdout=subprocess.PIPE, text=True,
                                      stdin=subprocess.DEVNULL)
            r = self.shipshape("ci", "cancel", "1", cwd=self.tmp)
            self.assertEqual(r.code, 0, r)
            self.assertIn("1 job cancelled", r.out)
            self.wait_for(lambda: self.ci_json("status", commit, cwd=self.tmp)["status"]
                          == "cancelled", timeout=30, what="the job to stop")
            followed, _ = follow.communicate(timeout=30)  # --follow ends with the job
            self.assertEqual(follow.returncode, 0)
            self.assertIn("begun", followed)
        finally:
            w.send_signal(2)
            out, err = w.communicate(timeout=60)
        self.assertIn("1 cancelled", out)
        self.assertEqual(w.returncode, 130, err)
        # Who cancelled is in the audit ledger of the store.
        r = self.shipshape("audit", "log")
        self.assertEqual(r.code, 0, r)
        self.assertIn("ci-cancelled", r.out)
        self.assertIn("ci-pipeline/1", r.out)

    def test_labels_choose_the_worker(self):
        ci_app.write(self.app, ".shipshape-ci.toml", '[job.test]\nchecklist = "ci/test.toml"\n'
                                                     'labels = ["gpu"]\n')
        commit = ci_app.commit_all(self.app, "needs a gpu")
        self.push()
        self.worker_once()
        self.assertEqual(self.ci_json("status", commit, cwd=self.tmp)["status"], "queued")
        r = self.shipshape("ci", "worker", "--once", "--labels", "gpu,linux", cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.ci_json("status", commit, cwd=self.tmp)["status"], "passed")
        r = self.shipshape("ci", "worker", "--once", "--labels", "shipshape:local", cwd=self.tmp)
        self.assertEqual(r.code, 2, r)
        self.assertIn("reserved", r.err)

    def test_prune_removes_ended_pipelines_and_their_artifacts(self):
        self.push()
        self.worker_once()
        doc = self.ci_json("status", "main", cwd=self.tmp)
        self.assertEqual(doc["status"], "passed")
        artifacts = os.path.join(self.tmp, "ci-artifacts", str(doc["pipeline"]))
        self.assertTrue(os.path.isdir(artifacts))
        r = self.shipshape("ci", "prune", "--older-than", "1h", cwd=self.tmp)
        self.assertIn("removed 0 ended pipelines", r.out)
        time.sleep(0.01)
        r = self.shipshape("ci", "prune", "--older-than", "1ms", cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        self.assertIn("removed 1 ended pipeline ", r.out)
        self.assertFalse(os.path.exists(artifacts))
        self.assertEqual(self.ci_json("status", cwd=self.tmp), [])


class CiFaultTest(CiTestCase):
    def test_a_job_under_a_fault_profile_records_what_fired(self):
        os.makedirs(os.path.join(self.app, "data"))
        ci_app.write(self.app, "data/.keep", "")
        ci_app.write(self.app, "ci/disk-full.toml", '''\
[[fault]]
kind = "disk-full"
path = "{{workspace}}/data"
size = "64K"
[[fault]]
kind = "block-port"
port = 5433
''')
        ci_app.write(self.app, "ci/test.toml", '''\
name = "fill"
[[step]]
id = "fill"
sh = "if dd if=/dev/zero of=data/blob bs=1k count=512 2>/dev/null; then echo wrote; else echo refused; fi"
''')
        ci_app.write(self.app, ".shipshape-ci.toml",
                     '[job.test]\nchecklist = "ci/test.toml"\nfaults = "ci/disk-full.toml"\n')
        r = self.ci("run")
        self.assertEqual(r.code, 0, r)
        self.assertIn("faults: 1 of 2 fired", r.out)
        job = self.ci_json("status")[0]["jobs"][0]
        fired = {f["fault"]: f["fired"] for f in job["faults"]}
        self.assertEqual(sorted(fired.values()), [False, True], job["faults"])
        self.assertTrue(any("data" in k and v for k, v in fired.items()), fired)
        self.assertTrue(all(f["step"] == "fill" for f in job["faults"]), job["faults"])
        self.assertIn("refused", self.ci("log", job["run_id"]).out)
        # The fault report is kept as an artifact.
        self.assertTrue(any("/test/faults/" in a for a in job["artifacts"]),
                        job["artifacts"])


class CiImageMatrixTest(CiTestCase):
    RESOURCE_LOCK = "dpkg"  # the first test on a machine makes the image base with mmdebstrap

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, "the test image's base is made as root")
        try:
            lab_image.make_image(os.path.join(self.tmp, "images"), "prod")
        except lab_image.Unsupported as e:
            require(self, False, f"a test image: {e}")

    def test_a_matrix_of_images_and_fault_profiles(self):
        os.makedirs(os.path.join(self.app, "data"))
        ci_app.write(self.app, "data/.keep", "")
        ci_app.write(self.app, "ci/full.toml",
                     '[[fault]]\nkind = "disk-full"\npath = "{{workspace}}/data"\nsize = "64K"\n')
        ci_app.write(self.app, "ci/test.toml", f'''\
name = "where"
[[step]]
id = "where"
sh = "if test -x {BIN}; then echo root=host; else echo root=image; fi; grep -h VERSION_CODENAME /etc/os-release; test -f calc.py"
[[step]]
id = "fill"
needs = ["where"]
sh = "if dd if=/dev/zero of=data/blob bs=1k count=256 2>/dev/null; then echo wrote; else echo refused; fi"
''')
        ci_app.write(self.app, ".shipshape-ci.toml", '''\
[job.test]
checklist = "ci/test.toml"
[job.test.matrix]
image = ["host", "prod"]
faults = ["", "ci/full.toml"]
''')
        r = self.ci("run")
        self.assertEqual(r.code, 0, r)
        jobs = {j["name"]: j for j in self.ci_json("status")[0]["jobs"]}
        self.assertEqual(sorted(jobs), sorted([
            "test[image=host,faults=]", "test[image=host,faults=ci/full.toml]",
            "test[image=prod,faults=]", "test[image=prod,faults=ci/full.toml]"]))
        for name, job in jobs.items():
            self.assertEqual(job["status"], "passed", job)
            log = self.ci("log", job["run_id"]).out
            in_image = "image=prod" in name
            faulty = "full.toml" in name
            self.assertIn("root=image" if in_image else "root=host", log, name)
            self.assertIn("VERSION_CODENAME=bookworm", log)
            self.assertIn("refused" if faulty else "wrote", log, name)
            # Every step runs under the profile: only the one that wrote fills the disk.
            self.assertEqual(sorted((f["step"], f["fired"]) for f in job["faults"]),
                             [("fill", True), ("where", False)] if faulty else [], name)
        # Only the workspace was writable: the image itself is unchanged.
        image_dir = os.path.join(self.tmp, "images")
        r = subprocess.run(["grep", "-rl", "root=", image_dir], capture_output=True, text=True)
        self.assertEqual(r.stdout, "", "a job wrote into its image")

    def test_an_unknown_image_in_a_matrix_fails_only_its_cell(self):
        ci_app.write(self.app, ".shipshape-ci.toml",
                     '[job.test]\nchecklist = "ci/test.toml"\n[job.test.matrix]\n'
                     'image = ["prod", "nope"]\n')
        r = self.ci("run")
        self.assertEqual(r.code, 1, r)
        jobs = {j["name"]: j for j in self.ci_json("status")[0]["jobs"]}
        self.assertEqual(jobs["test[image=nope]"]["failing"], "image")
        self.assertEqual(jobs["test[image=prod]"]["status"], "failed")  # python3 is not there
        self.assertIn("step lint", jobs["test[image=prod]"]["failing"])


if __name__ == "__main__":
    import unittest
    unittest.main()
