"""shipshape ci on PostgreSQL (#19), black-box, on a server the test starts itself: two workers
share one queue and run each of 20 jobs exactly once; a worker killed with kill -9 mid-job has
its job requeued once its lease expires, and another worker completes it; a push through the
hook reaches a worker waiting on LISTEN."""
import os
import signal
import subprocess
import time

import ci_app
from harness import BIN, RepoTestCase, require
from pgserver import start_for_tests


def many_jobs(n):
    return "".join(f'[job.j{i:02d}]\nchecklist = "ci/quick.toml"\n' for i in range(1, n + 1))


QUICK = 'name = "quick"\n[[step]]\nid = "say"\nsh = "echo job $SHIPSHAPE_CI_JOB"\n'
SLOW = 'name = "slow"\n[[step]]\nid = "wait"\nsh = "echo started; sleep 4; echo done"\n'


class CiPostgresTest(RepoTestCase):
    server = None
    unavailable = None
    databases = 0

    @classmethod
    def setUpClass(cls):
        cls.server, cls.unavailable = start_for_tests("shipshape-e2e-cipg-")

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()

    def setUp(self):
        super().setUp()
        require(self, self.server is not None, f"a test PostgreSQL server: {self.unavailable}")
        CiPostgresTest.databases += 1
        self.uri = self.server.createdb(f"ci{CiPostgresTest.databases}_{os.getpid()}")
        self.env["SHIPSHAPE_STORE"] = self.uri
        self.app = os.path.join(self.tmp, "app")
        self.bare = os.path.join(self.tmp, "app.git")
        ci_app.git(self.tmp, "init", "-q", "--bare", "-b", "main", self.bare)
        r = self.shipshape("ci", "hook", "install", self.bare, cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            if w.poll() is None:
                w.kill()
            w.communicate()
        super().tearDown()

    def make_and_push(self, ci, checklists):
        ci_app.make_app(self.app, ci=ci)
        for rel, text in checklists.items():
            ci_app.write(self.app, rel, text)
        commit = ci_app.commit_all(self.app, "jobs")
        ci_app.git(self.app, "push", "-q", self.bare, "HEAD:refs/heads/main")
        return commit

    def worker(self, *args, name):
        p = subprocess.Popen([BIN, "ci", "worker", "--name", name,
                              "--work-dir", os.path.join(self.tmp, "work-" + name), *args],
                             cwd=self.tmp, env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.workers.append(p)
        return p

    def status(self, commit):
        r = self.shipshape("--json", "ci", "status", commit, cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        return r.json()

    def test_two_workers_run_each_of_20_jobs_exactly_once(self):
        commit = self.make_and_push(many_jobs(20), {"ci/quick.toml": QUICK})
        a = self.worker("--once", name="wa")
        b = self.worker("--once", name="wb")
        out_a, err_a = a.communicate(timeout=300)
        out_b, err_b = b.communicate(timeout=300)
        self.assertEqual((a.returncode, b.returncode), (0, 0), err_a + err_b)
        doc = self.status(commit)
        self.assertEqual(doc["status"], "passed", doc)
        self.assertEqual(len(doc["jobs"]), 20)
        for job in doc["jobs"]:
            self.assertEqual((job["status"], job["attempts"]), ("passed", 1), job)
            self.assertIn(job["worker"], ("wa", "wb"))
        # Each worker says which jobs it ran: together every job, none twice.
        ran = []
        for out in (out_a, out_b):
            ran += [line.split()[3] for line in out.splitlines()
                    if line.split()[2:3] == ["job"] and ": passed" in line]
        self.assertEqual(sorted(ran), sorted(str(j["id"]) for j in doc["jobs"]), out_a + out_b)
        # One run per job, each printing its own job's name.
        for job in doc["jobs"]:
            log = self.shipshape("ci", "log", str(job["id"]), cwd=self.tmp)
            self.assertIn("job " + job["name"], log.out)

    def test_a_killed_worker_has_its_job_requeued_and_completed(self):
        commit = self.make_and_push('[job.slow]\nchecklist = "ci/slow.toml"\n',
                                    {"ci/slow.toml": SLOW})
        a = self.worker("--lease", "1s", name="wa")

        def running_on_a():
            jobs = self.status(commit)["jobs"]
            return jobs and jobs[0]["status"] == "running" and jobs[0]["worker"] == "wa" \
                and jobs[0]["run_id"]
        self.wait_for(running_on_a, what="worker wa to run the job")
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
        t_killed = time.monotonic()
        b = self.worker("--lease", "1s", name="wb")
        self.wait_for(lambda: self.status(commit)["status"] == "passed", timeout=120,
                      what="the requeued job to pass")
        self.assertGreaterEqual(time.monotonic() - t_killed, 1.0)  # not before the lease ended
        job = self.status(commit)["jobs"][0]
        self.assertEqual((job["worker"], job["attempts"]), ("wb", 2), job)
        log = self.shipshape("ci", "log", str(job["id"]), cwd=self.tmp)
        self.assertIn("done", log.out)
        b.send_signal(signal.SIGINT)
        out, _ = b.communicate(timeout=60)
        self.assertIn("1 passed", out)

    def test_a_waiting_worker_takes_a_push_at_once(self):
        b = self.worker(name="wb")
        time.sleep(0.5)  # the worker is waiting (LISTEN)
        commit = self.make_and_push('[job.quick]\nchecklist = "ci/quick.toml"\n',
                                    {"ci/quick.toml": QUICK})
        self.wait_for(lambda: self.status(commit)["status"] == "passed", timeout=60,
                      what="the pushed job to pass")
        notes = ci_app.git(self.bare, "log", "--notes=shipshape-ci", "-1", commit).stdout
        self.assertIn("shipshape-ci: passed", notes)


if __name__ == "__main__":
    import unittest
    unittest.main()
