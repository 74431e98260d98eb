"""Runs whose steps name hosts (`on`), end to end with the real binary: the locks a run takes
for every environment its steps touch, the summary of a failed rollout, undo per host, facts in
commands, and duplicate hosts in the inventory. The hosts have loopback addresses, which
shipshape runs on this machine, so no traffic leaves it."""
import os
import socket
import subprocess
import textwrap

from harness import RepoTestCase, read_text

INVENTORY = """\
[env.qa]
hosts = ["qa1"]
[env.staging]
hosts = ["st1"]
[env.prod]
hosts = ["p1", "p2", "p3"]
[host.qa1]
address = "127.0.0.2"
[host.st1]
address = "127.0.0.3"
[host.p1]
address = "127.0.0.4"
[host.p2]
address = "127.0.0.5"
[host.p3]
address = "127.0.0.6"
"""

# A step that appends "TAG-HOST" to `ran`, then holds its host until the file `release` exists
# (bounded, so a broken test cannot hang forever).
HOLD = ('echo {tag}-$SHIPSHAPE_HOST >> ran; i=0; '
        'while [ ! -f release ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done')


class RunHostsTest(RepoTestCase):
    def setUp(self):
        super().setUp()
        self.write("inventory.toml", INVENTORY)
        self.procs = []

    def tearDown(self):
        self.write("release", "")
        for p in self.procs:
            try:
                p.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
        super().tearDown()

    def ran(self):
        return read_text(os.path.join(self.repo, "ran")).split()

    def start_holder(self, checklist, env):
        """Starts a run that holds its first host until `release`; returns (process, run id)."""
        proc = self.start("run", checklist, "--env", env)
        self.procs.append(proc)
        self.wait_for(lambda: any(r.startswith("A-") for r in self.ran()), timeout=120,
                      what="the holding run to start its first host")
        runs = self.shipshape("--json", "runs").json()["runs"]
        return proc, runs[0]["id"]

    def finish_holder(self, proc):
        self.write("release", "")
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, out + err)

    def test_a_run_locks_the_environments_of_the_hosts_its_steps_touch(self):
        self.write("checklists/roll.toml", textwrap.dedent(f"""\
            [[step]]
            id = "restart"
            on = "env:prod"
            serial = 1
            sh = "{HOLD.format(tag='A')}"
            """))
        # A qa run whose step names the prod hosts: it must not run while prod rolls.
        self.write("checklists/sneaky.toml", textwrap.dedent("""\
            [[step]]
            id = "poke"
            on = "env:prod"
            sh = "echo B-$SHIPSHAPE_HOST >> ran"
            """))
        holder, holder_run = self.start_holder("checklists/roll.toml", "prod")
        r = self.shipshape("run", "checklists/sneaky.toml", "--env", "qa")
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"environment 'prod' (step 'poke' runs on host p1) is locked by run "
                      f"{holder_run} (pid {holder.pid} on {socket.gethostname()}, started ",
                      r.err)
        self.assertNotIn("B-", " ".join(self.ran()))
        # Refused before anything was recorded or locked: qa itself is free.
        self.write("checklists/qa.toml", '[[step]]\nid = "q"\nrun = ["true"]\n')
        r = self.shipshape("run", "checklists/qa.toml", "--env", "qa")
        self.assertEqual(r.code, 0, r)
        self.finish_holder(holder)
        self.assertEqual(self.ran(), ["A-p1", "A-p2", "A-p3"])
        # Once prod is free, the same qa run goes ahead.
        r = self.shipshape("run", "checklists/sneaky.toml", "--env", "qa")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(sorted(x for x in self.ran() if x.startswith("B-")),
                         ["B-p1", "B-p2", "B-p3"])

    def test_a_prod_run_touching_qa_hosts_locks_qa_and_resume_is_refused_too(self):
        self.write("checklists/deploy.toml", textwrap.dedent(f"""\
            [[step]]
            id = "seed"
            on = "qa1"
            sh = "{HOLD.format(tag='A')}"
            """))
        # A qa run waiting for a check-off before its step on qa1: it holds no lock now, and
        # must take it again when it resumes.
        self.write("checklists/qa.toml", textwrap.dedent("""\
            [[step]]
            id = "approve"
            manual = "QA approves"
            role = "qa"
            [[step]]
            id = "smoke"
            needs = ["approve"]
            on = "qa1"
            sh = "echo C-$SHIPSHAPE_HOST >> ran"
            """))
        r = self.shipshape("--json", "run", "checklists/qa.toml", "--env", "qa")
        self.assertEqual(r.code, 4, r)
        waiting_run = self.run_id_of(r)
        holder, holder_run = self.start_holder("checklists/deploy.toml", "prod")
        self.write("checklists/local.toml", '[[step]]\nid = "l"\nsh = "echo D-here >> ran"\n')
        r = self.shipshape("run", "checklists/local.toml", "--env", "qa")
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"environment 'qa' is locked by run {holder_run} (pid {holder.pid} on ",
                      r.err)
        self.assertEqual(self.shipshape("check-off", waiting_run, "approve", "--as", "qa").code,
                         0)
        r = self.shipshape("resume", waiting_run)
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"environment 'qa' is locked by run {holder_run}", r.err)
        self.assertNotIn("C-", " ".join(self.ran()))
        # Staging is untouched by both: free.
        r = self.shipshape("run", "checklists/local.toml", "--env", "staging")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.ran(), ["A-qa1", "D-here"])
        self.finish_holder(holder)
        r = self.shipshape("resume", waiting_run)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.ran(), ["A-qa1", "D-here", "C-qa1"])

    def test_a_failed_rollout_names_the_failing_hosts_log_and_undo_goes_host_by_host(self):
        self.write("checklists/roll.toml", textwrap.dedent("""\
            [[step]]
            id = "restart-prod"
            on = "env:prod"
            serial = 1
            sh = "if [ $SHIPSHAPE_HOST = p3 ]; then echo p3 refused to restart; exit 3; fi; echo do-$SHIPSHAPE_HOST >> trace"
            undo = { sh = "echo undo-$SHIPSHAPE_HOST >> trace" }
            """))
        r = self.shipshape("run", "checklists/roll.toml", "--env", "prod")
        self.assertEqual(r.code, 1, r)
        run_id = r.out.split("run ")[1].split()[0]
        run_dir = os.path.join(self.repo, ".shipshape", "runs", run_id)
        log = os.path.join(run_dir, "restart-prod@p3.log")
        self.assertTrue(os.path.exists(log), os.listdir(run_dir))
        self.assertIn("failed step restart-prod: p3 exit 3", r.out)
        self.assertIn(f"failed on p3: exit 3\n      log: {log}\n", r.out)
        self.assertIn("      | p3 refused to restart", r.out)
        self.assertNotIn(os.path.join(run_dir, "restart-prod.log"), r.out)
        report = self.shipshape("--json", "resume", run_id).json_lines()[-1]
        self.assertEqual([(h["step"], h["exit_code"]) for h in
                          report["outcome"]["failed_hosts"]["restart-prod"]],
                         [("restart-prod@p3", 3)])
        # p1 and p2 completed and have an undo: rolling back is offered, and goes per host,
        # last completed first.
        self.assertIn(f"or roll back:  shipshape undo {run_id}", r.out)
        r = self.shipshape("undo", run_id)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.read("trace").split(),
                         ["do-p1", "do-p2", "undo-p2", "undo-p1"])
        steps = {s["id"]: s for s in self.show(run_id)["steps"]}
        self.assertEqual(steps["restart-prod@p1"]["undo_state"], "undone")
        self.assertEqual(steps["restart-prod@p2"]["undo_state"], "undone")
        self.assertEqual(steps["restart-prod@p3"]["undo_state"], "")
        # Nothing left to undo.
        r = self.shipshape("undo", run_id)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(len(self.read("trace").split()), 4)

    def test_no_undo_is_offered_when_no_completed_step_has_one(self):
        self.write("checklists/roll.toml", textwrap.dedent("""\
            [[step]]
            id = "restart"
            on = "env:prod"
            serial = 1
            sh = "[ $SHIPSHAPE_HOST != p2 ]"
            """))
        r = self.shipshape("run", "checklists/roll.toml", "--env", "prod")
        self.assertEqual(r.code, 1, r)
        self.assertIn("then continue: shipshape resume", r.out)
        self.assertNotIn("shipshape undo", r.out)

    def test_facts_in_commands_per_host_and_for_this_machine(self):
        with open("/etc/os-release") as f:
            os_id = dict(line.rstrip("\n").split("=", 1) for line in f
                         if "=" in line)["ID"].strip('"')
        self.write("checklists/facts.toml", textwrap.dedent("""\
            [[step]]
            id = "here"
            sh = "echo {{facts.os.id}} > os-here"
            [[step]]
            id = "there"
            on = "p1"
            sh = "echo {{facts.os.id}} $SHIPSHAPE_HOST > os-there"
            """))
        r = self.shipshape("run", "checklists/facts.toml", "--env", "prod")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.read("os-here").strip(), os_id)
        self.assertEqual(self.read("os-there").strip(), f"{os_id} p1")
        # A fact that does not exist stops the run before anything runs, naming it.
        self.write("checklists/nofact.toml", textwrap.dedent("""\
            [[step]]
            id = "a"
            sh = "echo {{facts.os.colour}} > x"
            """))
        r = self.shipshape("run", "checklists/nofact.toml", "--env", "prod")
        self.assertEqual(r.code, 2, r)
        self.assertIn("facts.os.colour", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "x")))

    def test_duplicate_hosts_are_an_error_and_shared_addresses_a_warning(self):
        self.write("inventory.toml", INVENTORY.replace('hosts = ["p1", "p2", "p3"]',
                                                       'hosts = ["p1", "p2", "p3", "p2"]'))
        r = self.shipshape("validate")
        self.assertEqual(r.code, 2, r)
        self.assertIn("inventory.toml:6:28: env 'prod' lists host 'p2' more than once", r.err)
        self.write("inventory.toml", INVENTORY.replace('["p1", "p2", "p3"]',
                                                       '["p1", "p2", "p3", "p4"]')
                   + '[host.p4]\naddress = "127.0.0.5"\n')
        warning = ("inventory.toml:18:11: warning: hosts 'p2' and 'p4' have the same address "
                   "127.0.0.5: a step on both runs twice on that machine")
        r = self.shipshape("validate")
        self.assertEqual(r.code, 0, r)
        self.assertIn(warning, r.err)
        self.write("checklists/q.toml", '[[step]]\nid = "q"\nrun = ["true"]\n')
        r = self.shipshape("run", "checklists/q.toml", "--env", "prod")
        self.assertEqual(r.code, 0, r)
        self.assertIn(warning, r.err)
