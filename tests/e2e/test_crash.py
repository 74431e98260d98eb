"""Crash safety, Ctrl-C and the environment lock, exercised against the real binary:
kill -9 at many points then resume must never rerun a finished step."""
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import time
import unittest

from harness import BIN, RepoTestCase, pid_alive, read_text, require

# Twelve steps in a diamond-ish DAG, three at a time. Every start of a step's process appends
# the step id to `trace` before doing anything else.
CHECKLIST = "parallel = 3\n" + "".join(
    f"""
[[step]]
id = "s{i:02d}"
sh = "echo $SHIPSHAPE_STEP >> trace; sleep 0.0{(i * 7) % 9 + 1}"
""" + (f'needs = ["s{i - 3:02d}"]\n' if i >= 3 else "")
    for i in range(12))


def trace_counts(path):
    try:
        with open(path) as f:
            return collections.Counter(f.read().split())
    except FileNotFoundError:
        return collections.Counter()


class CrashTest(RepoTestCase):
    def test_kill_9_at_many_points_then_resume_never_reruns_a_finished_step(self):
        self.write("checklists/c.toml", CHECKLIST)
        trace = os.path.join(self.repo, "trace")
        rng = random.Random(20261125)
        total_kills = 0
        for round_no in range(6):
            if os.path.exists(trace):
                os.remove(trace)
            args = ["--json", "run", "checklists/c.toml"]
            run_id = None
            finished_before = []  # (set of finished steps, trace counts) at each kill
            for attempt in range(40):
                proc = self.start(*args)
                delay = rng.choice([0.0, 0.002, 0.01, 0.03, 0.06, 0.1, 0.15, 0.25])
                try:
                    out, err = proc.communicate(timeout=delay) if delay else ("", "")
                    if not delay:
                        raise subprocess.TimeoutExpired(proc.args, 0)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    out, err = proc.communicate()
                if proc.returncode == 0:
                    docs = [json.loads(l) for l in out.splitlines() if l.strip()]
                    self.assertEqual(docs[-1]["outcome"]["status"], "done")
                    break
                self.assertEqual(proc.returncode, -signal.SIGKILL, err)
                total_kills += 1
                if run_id is None:
                    runs = self.shipshape("--json", "runs").json()["runs"]
                    if not runs or (round_no and runs[0]["id"] in self.seen_runs):
                        continue  # killed before the run was recorded: start afresh
                    run_id = runs[0]["id"]
                    self.seen_runs.add(run_id)
                    args = ["--json", "resume", run_id]
                states = self.step_states(run_id)
                done = {s for s, st in states.items() if st == "ok"}
                finished_before.append((done, trace_counts(trace)))
                self.finished_checks += len(done)
            else:
                self.fail("the run never completed")
            if run_id is None:
                continue  # completed before any kill landed after its creation
            final = trace_counts(trace)
            for done, counts in finished_before:
                for step in done:
                    self.assertEqual(final[step], counts[step],
                                     f"step {step} of {run_id} ran again after it was recorded finished")
            shown = self.show(run_id)
            self.assertEqual(shown["run"]["status"], "done")
            self.assertTrue(all(s["state"] == "ok" for s in shown["steps"]), shown["steps"])
            finished_events = collections.Counter(
                e["step"] for e in shown["events"] if e["kind"] == "step-ok")
            self.assertEqual(set(finished_events.values()), {1}, finished_events)
            self.assertEqual(len(finished_events), 12)
            for step in shown["steps"]:
                self.assertGreaterEqual(final[step["id"]], 1)
        self.assertGreaterEqual(total_kills, 10, "too few kills landed to mean anything")
        self.assertGreaterEqual(self.finished_checks, 10, "too few kills after finished steps")

    def setUp(self):
        super().setUp()
        self.seen_runs = set()
        self.finished_checks = 0

    def test_ctrl_c_stops_the_process_group_and_is_resumable(self):
        self.write("checklists/i.toml", """
            [[step]]
            id = "long"
            sh = "sleep 60 & echo $! > child.pid; echo $$ > shell.pid; wait"
            [[step]]
            id = "after"
            sh = "echo after > after.txt"
            needs = ["long"]
            """)
        proc = self.start("run", "checklists/i.toml")
        child_pid_file = os.path.join(self.repo, "child.pid")
        self.wait_for(lambda: read_text(child_pid_file).strip(),
                      what="the step to start")
        child = int(read_text(child_pid_file))
        self.assertTrue(pid_alive(child))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 130, out + err)
        self.assertIn("interrupted", out)
        run_id = out.split("run ")[1].split()[0]
        self.assertIn(f"shipshape resume {run_id}", out)
        self.wait_for(lambda: not pid_alive(child), timeout=5, what="the grandchild to stop")
        self.assertEqual(self.show(run_id)["run"]["status"], "interrupted")
        self.assertEqual(self.step_states(run_id)["long"], "interrupted")
        # Resume reruns the interrupted step; make it quick this time.
        self.write("child.pid", "")
        self.assertFalse(os.path.exists(os.path.join(self.repo, "after.txt")))
        proc = self.start("resume", run_id)
        self.wait_for(lambda: read_text(child_pid_file).strip(), what="the rerun to start")
        os.kill(int(read_text(os.path.join(self.repo, "shell.pid"))), signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        # The shell was killed by SIGTERM: the step fails, after being rerun exactly once.
        self.assertEqual(proc.returncode, 1, out + err)
        self.assertIn("killed by SIGTERM", out)
        # The rerun's own background sleep is left over by design (not a timeout or Ctrl-C).
        os.kill(int(read_text(child_pid_file)), signal.SIGKILL)

    def test_group_commit_flushes_once_for_independent_steps_and_before_a_dependent(self):
        require(self, shutil.which("strace"), "strace is not installed (apt-get install strace)")
        n = 20
        self.write("checklists/g.toml", "parallel = 4\n" + "".join(
            f'[[step]]\nid = "i{i:02d}"\nsh = "echo i{i:02d} >> trace"\n' for i in range(n))
            + '[[step]]\nid = "dep"\nsh = "echo dependent-runs >> trace"\nneeds = ['
            + ", ".join(f'"i{i:02d}"' for i in range(n)) + "]\n")
        out = os.path.join(self.tmp, "strace.out")
        r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync,execve,exit_group",
                            "-o", out, BIN, "run", "checklists/g.toml"], cwd=self.repo,
                           capture_output=True, text=True, timeout=300, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = read_text(out).splitlines()
        syncs = [i for i, l in enumerate(lines) if " fsync(" in l or " fdatasync(" in l]
        # The independent steps' records share flushes: far fewer than one per step.
        self.assertLess(len(syncs), n, "\n".join(lines[i] for i in syncs))
        # The dependent starts only after a flush that follows the last of its needs exiting.
        step_pids = {l.split()[0] for l in lines if "execve(" in l and "echo i" in l}
        self.assertEqual(len(step_pids), n)
        last_exit = max(i for i, l in enumerate(lines)
                        if l.split()[0] in step_pids and "exit_group(" in l)
        dep_exec = next(i for i, l in enumerate(lines)
                        if "execve(" in l and "dependent-runs" in l)
        self.assertTrue(any(last_exit < i < dep_exec for i in syncs),
                        "no flush between the needs finishing and the dependent starting:\n"
                        + "\n".join(lines[last_exit:dep_exec + 1]))

    def test_sigterm_stops_the_run_records_it_interrupted_and_resume_finishes_it(self):
        self.write("checklists/t.toml", """
            [[step]]
            id = "first"
            sh = "echo first >> trace"
            [[step]]
            id = "long"
            needs = ["first"]
            sh = "test -f quick && exit 0; sleep 60 & echo $! > child.pid; wait"
            [[step]]
            id = "after"
            needs = ["long"]
            sh = "echo after >> trace"
            """)
        proc = self.start("run", "checklists/t.toml")
        child_pid_file = os.path.join(self.repo, "child.pid")
        self.wait_for(lambda: read_text(child_pid_file).strip(), timeout=120,
                      what="the long step to start")
        child = int(read_text(child_pid_file))
        # SIGTERM to shipshape alone (as a service manager or `kill` sends it), not its group.
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 130, out + err)
        run_id = out.split("run ")[1].split()[0]
        self.assertIn(f"then continue: shipshape resume {run_id}", out)
        self.wait_for(lambda: not pid_alive(child), timeout=60,
                      what="the step's process group to be stopped")
        shown = self.show(run_id)
        self.assertEqual(shown["run"]["status"], "interrupted")
        states = {s["id"]: s["state"] for s in shown["steps"]}
        self.assertEqual(states, {"first": "ok", "long": "interrupted", "after": "pending"})
        # Resumable: the interrupted step runs again, the finished one does not.
        self.write("quick", "")
        r = self.shipshape("resume", run_id)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(read_text(os.path.join(self.repo, "trace")).split(), ["first", "after"])
        self.assertEqual(self.show(run_id)["run"]["status"], "done")

    def test_environment_lock_refuses_a_live_holder_and_takes_over_a_dead_one(self):
        self.write("checklists/l.toml", """
            [[step]]
            id = "hold"
            sh = "touch started; sleep 30"
            """)
        self.write("checklists/quick.toml", '[[step]]\nid = "q"\nrun = ["true"]\n')
        holder = self.start("run", "checklists/l.toml")
        self.wait_for(lambda: os.path.exists(os.path.join(self.repo, "started")),
                      what="the holder to start")
        holder_run = self.shipshape("--json", "runs").json()["runs"][0]["id"]
        r = self.shipshape("run", "checklists/quick.toml")
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"environment 'local' is locked by run {holder_run} (pid {holder.pid} on ",
                      r.err)
        self.assertIn(", started 20", r.err)
        # Resuming the very run that is executing elsewhere is refused too.
        r = self.shipshape("resume", holder_run)
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"is locked by run {holder_run} (pid {holder.pid} on ", r.err)
        # Another environment is free.
        r = self.shipshape("run", "checklists/quick.toml", "--env", "staging")
        self.assertEqual(r.code, 0, r)
        # kill -9 leaves the lock behind; the next run detects the dead holder and takes over.
        os.killpg(holder.pid, signal.SIGKILL)
        holder.communicate()
        self.assertEqual(self.show(holder_run)["run"]["status"], "interrupted")
        r = self.shipshape("--json", "run", "checklists/quick.toml")
        self.assertEqual(r.code, 0, r)
        notes = r.json_lines()[-1]["notes"]
        self.assertEqual(len(notes), 1, notes)
        self.assertRegex(notes[0], rf"^took over the lock of environment 'local' from run "
                                   rf"{holder_run} \(pid {holder.pid} on .+, started .+\), "
                                   rf"which is no longer running$")
        # Resuming the killed run stops the leftover step process first, then reruns it.
        self.write("checklists/l.toml", "")  # the stored definition is what resumes
        os.remove(os.path.join(self.repo, "started"))
        proc = self.start("--json", "resume", holder_run)
        self.wait_for(lambda: os.path.exists(os.path.join(self.repo, "started")),
                      what="the rerun to start")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 130)
        report = json.loads(out.splitlines()[-1])
        self.assertTrue(any("stopped leftover process group" in n for n in report["notes"]),
                        report["notes"])


if __name__ == "__main__":
    unittest.main()
