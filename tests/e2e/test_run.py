"""Running checklists end to end: DAG order, parallelism, manual check-offs, failure, undo,
secrets and the --json shapes."""
import json
import os
import unittest

from harness import RepoTestCase


class RunTest(RepoTestCase):
    def test_dag_order_and_parallel_overlap(self):
        # a and b each wait for the other to have started: only a parallel run gets past them.
        self.write("checklists/dag.toml", """
            parallel = 2
            [[step]]
            id = "a"
            sh = "echo a >> order; touch a.on; for i in $(seq 200); do [ -f b.on ] && exit 0; sleep 0.05; done; exit 1"
            [[step]]
            id = "b"
            sh = "echo b >> order; touch b.on; for i in $(seq 200); do [ -f a.on ] && exit 0; sleep 0.05; done; exit 1"
            [[step]]
            id = "c"
            sh = "echo c >> order"
            needs = ["a", "b"]
            [[step]]
            id = "d"
            sh = "echo d >> order"
            needs = ["c"]
            """)
        r = self.shipshape("--json", "run", "checklists/dag.toml")
        self.assertEqual(r.code, 0, r)
        order = self.read("order").split()
        self.assertEqual(sorted(order[:2]), ["a", "b"])
        self.assertEqual(order[2:], ["c", "d"])
        events = r.json_lines()
        self.assertEqual(events[-1]["kind"], "run-report")
        self.assertEqual(events[-1]["outcome"]["status"], "done")
        self.assertEqual(events[-1]["exit_code"], 0)
        kinds = {e.get("event") for e in events[:-1]}
        self.assertTrue({"step-started", "step-finished"} <= kinds, kinds)

    def test_parallel_1_serializes(self):
        # Two independent steps; the first holds until the test releases it. With parallel = 1
        # the second starts only after the first finished: its start follows the first's end
        # in the journal. (An engine ignoring `parallel` starts both at once, while the first
        # is held.)
        self.write("checklists/serial.toml", """
            parallel = 1
            [[step]]
            id = "a"
            sh = "touch a.on; i=0; while [ ! -f release ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done"
            [[step]]
            id = "b"
            sh = "touch b.on"
            """)
        proc = self.start("--json", "run", "checklists/serial.toml")
        self.wait_for(lambda: os.path.exists(os.path.join(self.repo, "a.on")), timeout=120,
                      what="step a to start")
        self.assertFalse(os.path.exists(os.path.join(self.repo, "b.on")))
        self.write("release", "")
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, out + err)
        run_id = [json.loads(l) for l in out.splitlines() if l.strip()][-1]["run"]["id"]
        events = [(e["kind"], e["step"]) for e in self.show(run_id)["events"]]
        self.assertLess(events.index(("step-ok", "a")), events.index(("step-started", "b")),
                        events)

    def test_manual_step_waits_then_check_off_and_resume(self):
        self.write("checklists/m.toml", """
            [[step]]
            id = "prep"
            sh = "echo prep >> trace"
            [[step]]
            id = "qa-ok"
            manual = "QA confirms"
            role = "qa"
            needs = ["prep"]
            [[step]]
            id = "after"
            sh = "echo after >> trace"
            needs = ["qa-ok"]
            [[step]]
            id = "side"
            sh = "echo side >> trace"
            """)
        r = self.shipshape("run", "checklists/m.toml")
        self.assertEqual(r.code, 4, r)
        run_id = r.out.split("run ")[1].split()[0]
        self.assertIn(f"shipshape check-off {run_id} qa-ok --as qa", r.out)
        self.assertEqual(sorted(self.read("trace").split()), ["prep", "side"])
        states = self.step_states(run_id)
        self.assertEqual(states, {"prep": "ok", "qa-ok": "waiting", "after": "pending", "side": "ok"})
        # The wrong role is refused and changes nothing.
        r = self.shipshape("check-off", run_id, "qa-ok", "--as", "dev")
        self.assertEqual(r.code, 2, r)
        self.assertIn("step 'qa-ok' must be checked off by role 'qa', not 'dev'", r.err)
        self.assertEqual(self.step_states(run_id)["qa-ok"], "waiting")
        # A command step cannot be checked off; a pending manual step is refused too.
        self.assertEqual(self.shipshape("check-off", run_id, "after", "--as", "qa").code, 2)
        r = self.shipshape("--json", "check-off", run_id, "qa-ok", "--as", "qa", "--by", "alice",
                           "--note", "smoke tests pass")
        self.assertEqual(r.code, 0, r)
        doc = r.json()
        self.assertEqual((doc["kind"], doc["by"], doc["note"]), ("check-off", "alice", "smoke tests pass"))
        r = self.shipshape("check-off", run_id, "qa-ok", "--as", "qa")
        self.assertEqual(r.code, 1, r)
        self.assertIn("already checked off by alice", r.err)
        r = self.shipshape("resume", run_id)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(sorted(self.read("trace").split()), ["after", "prep", "side"])
        shown = self.show(run_id)
        self.assertEqual(shown["run"]["status"], "done")
        qa = [s for s in shown["steps"] if s["id"] == "qa-ok"][0]
        self.assertEqual(qa["state"], "checked-off")
        self.assertEqual(qa["check_offs"][0]["by"], "alice")
        self.assertEqual(qa["check_offs"][0]["role"], "qa")

    def test_failure_stops_dependents_names_step_and_log(self):
        self.write("checklists/f.toml", """
            parallel = 2
            [[step]]
            id = "slow"
            sh = "sleep 0.3; echo slow >> trace"
            [[step]]
            id = "bad"
            sh = "echo something broke; test -f fixed || exit 7; echo bad-fixed >> trace"
            [[step]]
            id = "after-bad"
            sh = "echo after-bad >> trace"
            needs = ["bad"]
            """)
        r = self.shipshape("run", "checklists/f.toml")
        self.assertEqual(r.code, 1, r)
        self.assertIn("failed step bad: exit 7", r.out)
        self.assertIn("| something broke", r.out)
        run_id = r.out.split("run ")[1].split()[0]
        log = os.path.join(self.repo, ".shipshape", "runs", run_id, "bad.log")
        self.assertIn(f"log: {log}", r.out)
        with open(log) as f:
            self.assertIn("something broke", f.read())
        # The running step was allowed to finish; the dependent never ran.
        self.assertEqual(self.read("trace").split(), ["slow"])
        states = self.step_states(run_id)
        self.assertEqual(states, {"slow": "ok", "bad": "failed", "after-bad": "pending"})
        shown = self.show(run_id)
        bad = [s for s in shown["steps"] if s["id"] == "bad"][0]
        self.assertEqual(bad["exit_code"], 7)
        # Fix the cause and resume: only what did not complete runs (slow ran once), the
        # failed step runs again, and its dependent runs after it.
        self.write("fixed", "")
        r = self.shipshape("resume", run_id)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.read("trace").split(), ["slow", "bad-fixed", "after-bad"])
        self.assertEqual(self.step_states(run_id),
                         {"slow": "ok", "bad": "ok", "after-bad": "ok"})

    def test_timeout_and_retries(self):
        self.write("checklists/t.toml", """
            [[step]]
            id = "hang"
            sh = "sleep 30"
            timeout = "300ms"
            [[step]]
            id = "flaky"
            sh = "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; [ $n -ge 3 ]"
            retries = 2
            """)
        r = self.shipshape("--json", "run", "checklists/t.toml")
        self.assertEqual(r.code, 1, r)
        report = r.json_lines()[-1]
        steps = {s["step"]: s for s in report["outcome"]["steps"]}
        self.assertEqual(steps["hang"]["detail"], "timed out after 300ms")
        self.assertEqual(steps["flaky"]["state"], "ok")
        self.assertEqual(steps["flaky"]["attempts"], 3)

    def test_unless_skips_and_plan_shows_it_without_running(self):
        self.write("checklists/u.toml", """
            [params.version]
            default = "2.0"
            [[step]]
            id = "fetch"
            sh = "echo fetched > release-{{version}}"
            unless = ["test", "-f", "release-{{version}}"]
            [[step]]
            id = "use"
            run = ["cat", "release-{{version}}"]
            needs = ["fetch"]
            [[step]]
            id = "ok"
            manual = "confirm"
            role = "ops"
            needs = ["use"]
            """)
        r = self.shipshape("--json", "run", "checklists/u.toml", "--plan")
        self.assertEqual(r.code, 0, r)
        plan = r.json()
        self.assertEqual(plan["kind"], "plan")
        self.assertEqual([(s["id"], s["wave"], s["verdict"]) for s in plan["steps"]],
                         [("fetch", 1, "run"), ("use", 2, "run"), ("ok", 3, "check-off")])
        self.assertFalse(os.path.exists(os.path.join(self.repo, "release-2.0")))
        self.assertEqual(self.shipshape("--json", "runs").json()["runs"], [])
        self.write("release-2.0", "already here\n")
        plan = self.shipshape("--json", "run", "checklists/u.toml", "--plan").json()
        self.assertEqual(plan["steps"][0]["verdict"], "skip")
        r = self.shipshape("--json", "run", "checklists/u.toml")
        self.assertEqual(r.code, 4, r)
        steps = {s["step"]: s["state"] for s in r.json_lines()[-1]["outcome"]["steps"]}
        self.assertEqual(steps["fetch"], "skipped")
        self.assertEqual(self.read("release-2.0"), "already here\n")
        text = self.shipshape("run", "checklists/u.toml", "--plan")
        self.assertIn("skip", text.out)
        self.assertIn("nothing was run", text.out)

    def test_undo_in_reverse_order_of_completion(self):
        self.write("checklists/u.toml", """
            parallel = 1
            [[step]]
            id = "one"
            sh = "echo one >> done"
            undo = { sh = "echo undo-one >> undo" }
            [[step]]
            id = "two"
            sh = "echo two >> done"
            undo = { sh = "echo undo-two >> undo" }
            needs = ["one"]
            [[step]]
            id = "skipped"
            run = ["true"]
            unless = ["true"]
            undo = { sh = "echo undo-skipped >> undo" }
            [[step]]
            id = "three"
            sh = "echo three >> done"
            undo = { sh = "echo undo-three >> undo" }
            needs = ["two", "skipped"]
            [[step]]
            id = "boom"
            run = ["false"]
            needs = ["three"]
            """)
        r = self.shipshape("--json", "run", "checklists/u.toml", "--undo-on-failure")
        self.assertEqual(r.code, 1, r)
        report = r.json_lines()[-1]
        self.assertEqual(report["run"]["status"], "undone")
        self.assertEqual(self.read("undo").split(), ["undo-three", "undo-two", "undo-one"])
        # Undoing again has nothing left to undo.
        os.remove(os.path.join(self.repo, "undo"))
        r = self.shipshape("undo", report["run"]["id"])
        self.assertEqual(r.code, 0, r)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "undo")))

    def test_undo_command_after_a_finished_run(self):
        self.write("checklists/u.toml", """
            [[step]]
            id = "a"
            sh = "touch a"
            undo = ["rm", "a"]
            [[step]]
            id = "b"
            sh = "touch b"
            undo = ["rm", "b"]
            needs = ["a"]
            """)
        r = self.shipshape("run", "checklists/u.toml")
        self.assertEqual(r.code, 0, r)
        self.assertTrue(os.path.exists(os.path.join(self.repo, "b")))
        r = self.shipshape("--json", "undo", "last")
        self.assertEqual(r.code, 0, r)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "a")))
        self.assertFalse(os.path.exists(os.path.join(self.repo, "b")))
        steps = {s["id"]: s["undo_state"] for s in self.show("last")["steps"]}
        self.assertEqual(steps, {"a": "undone", "b": "undone"})
        self.assertEqual(self.show("last")["run"]["status"], "undone")
        r = self.shipshape("resume", "last")
        self.assertEqual(r.code, 1, r)
        self.assertIn("was undone", r.err)

    def test_secrets_are_redacted_everywhere(self):
        secret = "s3cr3t-value-42"
        self.env["SHIPSHAPE_TEST_SECRET"] = secret
        self.write("checklists/s.toml", """
            [[step]]
            id = "leak"
            sh = "echo password=$SHIPSHAPE_TEST_SECRET; echo $SHIPSHAPE_TEST_SECRET > got; exit 3"
            """)
        for args in (["run", "checklists/s.toml"], ["--json", "run", "checklists/s.toml"]):
            r = self.shipshape(*args)
            self.assertEqual(r.code, 1, r)
            self.assertNotIn(secret, r.out + r.err)
            self.assertIn("password=***", r.out)
        # The step itself received the real value.
        self.assertEqual(self.read("got").strip(), secret)
        for root, _, files in os.walk(os.path.join(self.repo, ".shipshape")):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(secret.encode(), f.read(), name)
        show = self.shipshape("--json", "show", "last")
        self.assertNotIn(secret, show.out)

    def test_secrets_are_redacted_in_resume_undo_and_show(self):
        secret = "s3cr3t-value-43"
        self.env["SHIPSHAPE_TEST_SECRET"] = secret
        self.write("checklists/s.toml", """
            [params.token]
            [[step]]
            id = "first"
            sh = "echo first saw $SHIPSHAPE_TEST_SECRET {{token}}"
            undo = { sh = "echo undo saw $SHIPSHAPE_TEST_SECRET; exit 5" }
            [[step]]
            id = "second"
            needs = ["first"]
            sh = "echo second saw $SHIPSHAPE_TEST_SECRET; test -f fixed || exit 3"
            """)
        r = self.shipshape("run", "checklists/s.toml", "--set", f"token={secret}")
        self.assertEqual(r.code, 1, r)
        run_id = r.out.split("run ")[1].split()[0]
        # resume, failing again: its live lines and its summary (with the log's tail).
        for args in (["resume", run_id], ["--json", "resume", run_id]):
            r = self.shipshape(*args)
            self.assertEqual(r.code, 1, r)
            self.assertIn("second saw ***", r.out)
            self.assertNotIn(secret, r.out + r.err)
        # undo, whose command fails: its output and the failure's detail.
        r = self.shipshape("undo", run_id)
        self.assertEqual(r.code, 1, r)
        self.assertIn("undo saw ***", r.out)
        self.assertNotIn(secret, r.out + r.err)
        # show: params given on the command line, step details and logs.
        r = self.shipshape("show", run_id)
        self.assertEqual(r.code, 0, r)
        self.assertIn("params: token=***", r.out)
        self.assertNotIn(secret, r.out + r.err)
        r = self.shipshape("--json", "show", run_id)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["run"]["params"], {"token": "***"})
        self.assertNotIn(secret, r.out + r.err)

    def test_step_environment_and_cwd(self):
        os.makedirs(os.path.join(self.repo, "sub"))
        self.write("checklists/e.toml", """
            [[step]]
            id = "env"
            sh = "echo $SHIPSHAPE_ENV $SHIPSHAPE_STEP $GREETING $(pwd) > {{repo}}/out"
            env = { GREETING = "hello-{{env}}" }
            cwd = "sub"
            """)
        r = self.shipshape("run", "checklists/e.toml", "--env", "staging")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.read("out").split(),
                         ["staging", "env", "hello-staging", os.path.join(self.repo, "sub")])

    def test_json_shapes_of_runs_and_show(self):
        self.write("checklists/j.toml", '[params.v]\ndefault = "1"\n[[step]]\nid = "a"\nrun = ["true"]\n')
        r = self.shipshape("--json", "run", "checklists/j.toml", "--set", "v=9")
        self.assertEqual(r.code, 0, r)
        report = r.json_lines()[-1]
        for key in ["kind", "run", "outcome", "log_dir", "notes", "exit_code", "check_offs_needed"]:
            self.assertIn(key, report)
        runs = self.shipshape("--json", "runs").json()
        self.assertEqual(runs["kind"], "runs")
        run = runs["runs"][0]
        for key in ["id", "checklist", "checklist_path", "env", "status", "params", "user", "host",
                    "pid", "started_at_ms", "updated_at_ms"]:
            self.assertIn(key, run)
        self.assertEqual(run["params"], {"v": "9"})
        self.assertEqual(run["checklist_path"], "checklists/j.toml")
        shown = self.show(run["id"])
        self.assertEqual(shown["kind"], "run")
        step = shown["steps"][0]
        for key in ["id", "kind", "role", "state", "attempts", "exit_code", "detail", "duration_ms",
                    "log", "check_offs", "finish_seq", "undo_state"]:
            self.assertIn(key, step)
        self.assertEqual([e["kind"] for e in shown["events"]],
                         ["run-started", "run-running", "step-started", "step-ok", "run-done"])


if __name__ == "__main__":
    unittest.main()
