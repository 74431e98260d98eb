"""The fleet (issue #6) against real hosts: a test fleet of network namespaces, each running
Debian's sshd (fleet.py). shipshape runs in the fleet's controller namespace and reaches the
hosts with the system ssh client and its own agent.

One fleet per process (setUpModule), shared by the TestCases run there; ctest runs each
TestCase in its own process, each with its own fleet (random namespace names, its own ssh
config, so control sockets differ too), so two can run at once. Each test works under its own
directory on the hosts, and a test that kills or restarts a host brings it back."""
import json
import os
import signal
import subprocess
import textwrap
import unittest

from fleet import Fleet, FleetUnsupported
from harness import BIN, RepoTestCase, Result, read_text, require

N = 10
_fleet = None
_unsupported = None


def setUpModule():
    global _fleet, _unsupported
    try:
        _fleet = Fleet(N).up()
    except FleetUnsupported as e:
        _unsupported = str(e)


def tearDownModule():
    if _fleet:
        _fleet.down()


def processes_mentioning(text):
    """Pids of live processes whose command line contains `text` (on any host of any fleet:
    they share this machine's pid namespace, so `text` should name one test's files)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            if text in read_text(f"/proc/{entry}/cmdline").replace("\0", " "):
                found.append(int(entry))
    return found


class FleetTestCase(RepoTestCase):
    def setUp(self):
        super().setUp()
        require(self, _fleet is not None, f"a test fleet: {_unsupported}")
        self.fleet = _fleet
        web = [h["name"] for h in self.fleet.hosts[:5]]
        self.write("inventory.toml", self.fleet.inventory_toml(
            env="prod", groups={"web": {"hosts": web, "roles": ["app"]},
                                "all": {"hosts": [h["name"] for h in self.fleet.hosts]}}))
        self.write("shipshape.toml", 'name = "fleet-test"\n[roles]\napp = ["states/app.toml"]\n')
        self.write("states/app.toml", "")
        # Each test works under its own directory on the hosts.
        self.base = "/srv/" + self.id().split(".")[-1]

    def ss(self, *args, timeout=120):
        r = subprocess.run(self.fleet.cmd([BIN, *args]), cwd=self.repo, capture_output=True,
                           text=True, timeout=timeout, env=self.env, stdin=subprocess.DEVNULL)
        return Result(r)

    def start_ss(self, *args):
        return subprocess.Popen(self.fleet.cmd([BIN, *args]), cwd=self.repo,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, stdin=subprocess.DEVNULL, start_new_session=True)

    def on_host(self, i, command):
        """`command`'s output on host i; fails the test unless ssh and the command succeed,
        so a check of what is (not) on a host cannot pass because ssh failed."""
        r = self.fleet.ssh(i, command, timeout=120)
        self.assertEqual(r.returncode, 0, f"on h{i:02d}: {command}: exit {r.returncode}: "
                                          f"{r.stderr}")
        return r.stdout

    def assert_absent(self, i, path, msg=None):
        """`path` does not exist on host i (ssh itself must work)."""
        r = self.fleet.ssh(i, f"test ! -e {path}", timeout=120)
        self.assertNotEqual(r.returncode, 255, f"ssh to h{i:02d} failed: {r.stderr}")
        self.assertEqual(r.returncode, 0, msg or f"{path} exists on h{i:02d}")

    def restart_host_at_cleanup(self, i):
        """Host i comes back fresh after this test, even when the test fails half-way."""
        self.addCleanup(self.fleet.restart_host, i)

    def hosts_json(self, result):
        return {h["host"]: h for h in result.json()["hosts"]}


class FleetStateTest(FleetTestCase):
    def test_facts_on_every_host(self):
        r = self.ss("--json", "facts", "env:prod", "--only", "os,memory")
        self.assertEqual(r.code, 0, r)
        hosts = {h["host"]: h for h in r.json()["hosts"]}
        self.assertEqual(sorted(hosts), [h["name"] for h in self.fleet.hosts])
        for h in hosts.values():
            self.assertTrue(h["os"]["kernel"], h)
            self.assertGreater(h["memory"]["total"], 0, h)
        # Saved facts land in the controller's store, one snapshot per host.
        r = self.ss("facts", "env:prod", "--only", "os", "--save")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out.count("saved as @"), N, r)

    def test_apply_on_every_host_then_no_drift(self):
        self.write("states/app.toml", textwrap.dedent(f"""\
            [[file]]
            path = "{self.base}/app.conf"
            template = true
            content = "host={{{{host}}}} address={{{{host.address}}}} rack={{{{host.tags.rack}}}}\\n"

            [[directory]]
            path = "{self.base}/data"
            mode = "0750"
            """))
        r = self.ss("plan", "group:all", "--state", "states/app.toml")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out.count("+ file " + self.base + "/app.conf"), N, r)
        r = self.ss("--json", "apply", "env:prod", "--state", "states/app.toml")
        self.assertEqual(r.code, 0, r)
        hosts = self.hosts_json(r)
        self.assertEqual(len(hosts), N)
        for name, h in hosts.items():
            self.assertEqual(h["failed"], 0, h)
            self.assertEqual(h["applied"], 2, h)
        # Each host got its own rendering, and only that host has it.
        for h in self.fleet.hosts:
            text = self.on_host(h["index"], f"cat {self.base}/app.conf")
            rack = "r" + str((h["index"] - 1) // 5 + 1)
            self.assertEqual(text, f"host={h['name']} address={h['address']} rack={rack}\n")
        self.assertFalse(os.path.exists(f"{self.base}/app.conf"), "written on the controller")
        r = self.ss("drift", "env:prod", "--state", "states/app.toml")
        self.assertEqual(r.code, 0, r)
        # A change by hand on one host is drift there, and only there.
        self.on_host(4, f"echo tampered > {self.base}/app.conf")
        r = self.ss("--json", "drift", "env:prod", "--state", "states/app.toml")
        self.assertEqual(r.code, 1, r)
        drifted = [n for n, h in self.hosts_json(r).items() if h["drifted"]]
        self.assertEqual(drifted, [self.fleet.hosts[3]["name"]])

    def test_roles_drive_remote_plans_and_env_comparison(self):
        self.write("states/app.toml", f'[[file]]\npath = "{self.base}/role.conf"\ncontent = "x"\n')
        # inventory_toml puts every host in prod: h03 moves to staging, with the same role.
        text = self.fleet.inventory_toml(
            env="prod", groups={"web": {"hosts": ["h01", "h02"], "roles": ["app"]}})
        text = text.replace('"h03", ', "")
        text += '\n[env.staging]\nhosts = ["h03"]\n[group.stage]\nhosts = ["h03"]\nroles = ["app"]\n'
        self.write("inventory.toml", text)
        r = self.ss("apply", "group:web")
        self.assertEqual(r.code, 0, r)
        r = self.ss("--json", "drift", "--env", "staging", "--against", "prod")
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        subjects = [d["subject"] for role in doc["roles"] for d in role["differences"]]
        self.assertTrue(any("role.conf" in s for s in subjects), doc)

    def test_agent_is_copied_once_per_binary(self):
        # The agent file's inode and mtime on each host: a copy makes a new file.
        # (tmpfs hands out new inode numbers, and mtimes are to the nanosecond: no sleep needed).
        stamp = "stat -c %i:%.9Y ~/.cache/shipshape/shipshape-*"
        facts = ("facts", "group:all", "--only", "os")
        self.assertEqual(self.ss(*facts).code, 0)
        before = {i: self.on_host(i, stamp) for i in range(1, N + 1)}
        self.fleet.restart_host(7)  # an empty home: the agent is gone there
        r = self.ss(*facts)
        self.assertEqual(r.code, 0, r)
        after = {i: self.on_host(i, stamp) for i in range(1, N + 1)}
        self.assertEqual([i for i in after if after[i] != before[i]], [7], (before, after))
        self.assertTrue(all(after.values()), after)
        self.assertEqual(self.ss(*facts).code, 0)
        again = {i: self.on_host(i, stamp) for i in range(1, N + 1)}
        self.assertEqual(again, after)
        files = self.on_host(7, "ls ~/.cache/shipshape/").split()
        self.assertEqual(len([f for f in files if f.startswith("shipshape-")]), 1, files)

    def test_exec_with_a_timeout_runs_through_the_agent_and_stops_the_command(self):
        # The command records its sleep's pid; the agent times the command itself, so it runs
        # before the timeout fires. Stopped means that sleep is gone, and `late` never written.
        r = self.ss("--json", "exec", "h01,h02", "--timeout", "1s", "--sh",
                    f"mkdir -p {self.base}; sleep 300 & echo $! > {self.base}/sleep.pid; wait; "
                    f"touch {self.base}/late")
        self.assertEqual(r.code, 1, r)
        for h in self.hosts_json(r).values():
            self.assertEqual((h["status"], h["exit"]), ("failed", "timed_out"), h)
        for i in (1, 2):
            pid = int(self.on_host(i, f"cat {self.base}/sleep.pid"))
            self.wait_for(lambda: not os.path.exists(f"/proc/{pid}/cmdline")
                          or "sleep" not in read_text(f"/proc/{pid}/cmdline"),
                          timeout=90, what=f"the command on h0{i} to stop (it went on)")
            self.assert_absent(i, f"{self.base}/late", "the command went on")

    def test_exec_reports_output_and_failures_per_host(self):
        r = self.ss("--json", "exec", "group:all", "--sh", 'hostname -I; test "$(hostname -I)" != "10.77.0.4 "')
        self.assertEqual(r.code, 1, r)
        hosts = self.hosts_json(r)
        self.assertEqual(hosts["h03"]["status"], "failed")
        self.assertEqual(hosts["h03"]["code"], 1)
        self.assertEqual(hosts["h01"]["output"].strip(), "10.77.0.2")
        self.assertEqual(sum(h["status"] == "ok" for h in hosts.values()), N - 1)


class FleetFailureTest(FleetTestCase):
    def test_unreachable_host_mid_run(self):
        self.ss("exec", "group:all", "--", "true")  # agents in place, masters up
        # Every host's command starts, then waits for `go` (on the shared file system), so host
        # 4 dies mid-command, whatever the machine's speed.
        started, go = os.path.join(self.tmp, "started"), os.path.join(self.tmp, "go")
        os.makedirs(started)
        proc = self.start_ss("--json", "exec", "group:all", "--timeout", "120s", "--sh",
                             f"touch {started}/$(hostname -I); "
                             f"while [ ! -e {go} ]; do sleep 0.05; done; echo done")
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        self.wait_for(lambda: len(os.listdir(started)) == N, what="every host's command to start")
        self.restart_host_at_cleanup(4)
        self.fleet.kill_host(4)
        open(go, "w").close()
        out, err = proc.communicate(timeout=120)
        proc.stdout.close()
        proc.stderr.close()
        self.assertEqual(proc.returncode, 1, err)
        hosts = {h["host"]: h for h in json.loads(out)["hosts"]}
        self.assertIn(hosts["h04"]["status"], ("unreachable", "failed"), hosts["h04"])
        self.assertIn("error", hosts["h04"])
        others = [h for n, h in hosts.items() if n != "h04"]
        self.assertTrue(all(h["status"] == "ok" and h["output"] == "done\n" for h in others),
                        others)
        # Now it cannot be reached at all: unreachable, with ssh's reason; the rest go on.
        r = self.ss("--json", "facts", "env:prod", "--only", "os")
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertEqual([e["host"] for e in doc["errors"]], ["h04"], doc["errors"])
        self.assertEqual(doc["errors"][0]["code"], "unreachable")
        self.assertIn("Connection refused", doc["errors"][0]["message"])
        self.assertEqual(len(doc["hosts"]), N - 1)

    def host_text(self, i, path):
        """The text of `path` on host i, "" when it does not exist (ssh itself must work)."""
        return self.on_host(i, f"cat {path} 2>/dev/null || test ! -e {path}")

    def show_state(self, step):
        """The state of `step` in the newest run ("" when the run or step is not recorded)."""
        r = self.shipshape("--json", "show", "last")
        if r.code != 0:
            return ""
        return {s["id"]: s["state"] for s in r.json()["steps"]}.get(step, "")

    def finish(self, proc):
        out, err = proc.communicate(timeout=120)
        proc.stdout.close()
        proc.stderr.close()
        return Result(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))

    def test_rolling_checklist_with_serial_and_max_fail(self):
        # A host with a `hold` file waits for `go` (on the shared file system) before it can
        # finish: the test lets h04 finish only after h03 failed, so h03's failure comes first
        # on any machine, and max_fail = 1 must then keep h05 from starting.
        go = os.path.join(self.tmp, "go")
        self.write("checklists/roll.toml", textwrap.dedent(f"""\
            name = "roll"

            [[step]]
            id = "deploy"
            on = "group:web"
            serial = 2
            max_fail = 1
            sh = "mkdir -p {self.base} && echo run >> {self.base}/runs && if [ -e {self.base}/hold ]; then while [ ! -e {go} ]; do sleep 0.05; done; fi && test ! -e {self.base}/broken && echo v2 > {self.base}/version"
            verify = {{ sh = "grep -qx v2 {self.base}/version" }}

            [[step]]
            id = "announce"
            needs = ["deploy"]
            run = ["true"]
            """))
        self.on_host(3, f"mkdir -p {self.base} && touch {self.base}/broken")
        self.on_host(4, f"mkdir -p {self.base} && touch {self.base}/hold")
        # The plan names the hosts and runs nothing anywhere.
        r = self.ss("--json", "run", "checklists/roll.toml", "--env", "prod", "--plan")
        self.assertEqual(r.code, 0, r)
        step = r.json()["steps"][0]
        self.assertEqual(step["reason"], "on 5 hosts (h01, h02, h03, h04, h05), 2 at a time")
        self.assertEqual(self.host_text(1, f"{self.base}/runs"), "")
        proc = self.start_ss("--json", "run", "checklists/roll.toml", "--env", "prod")
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        self.wait_for(lambda: self.show_state("deploy@h03") == "failed", what="h03 to fail")
        open(go, "w").close()
        r = self.finish(proc)
        self.assertEqual(r.code, 1, r)
        run_id = self.run_id_of(r)
        states = self.step_states(run_id)
        self.assertEqual(states["deploy"], "failed")
        self.assertEqual(states["deploy@h03"], "failed")
        self.assertEqual(states["announce"], "pending")
        # serial = 2: h01 and h02 start; finishing ones let h03 and then h04 in. h04 was either
        # not started or still held when h03 failed: with max_fail = 1 reached, no new host
        # starts, and one in flight (h04) finishes.
        self.assertNotIn("deploy@h05", states)
        self.assertEqual(self.host_text(5, f"{self.base}/runs"), "")
        self.assertIn(states.get("deploy@h04", "not started"), ("ok", "not started"), states)
        for i in (1, 2):
            self.assertEqual(states[f"deploy@h0{i}"], "ok")
        self.on_host(3, f"rm {self.base}/broken")
        r = self.ss("--json", "resume", run_id)
        self.assertEqual(r.code, 0, r)
        states = self.step_states(run_id)
        self.assertEqual(states["deploy"], "ok")
        self.assertEqual(states["announce"], "ok")
        # Never a second run on a host that finished; h03 ran twice (failed, then fixed).
        for i in range(1, 6):
            runs = self.on_host(i, f"cat {self.base}/runs").count("run")
            self.assertEqual(runs, 2 if i == 3 else 1, f"h0{i}")
            self.assertEqual(self.on_host(i, f"cat {self.base}/version"), "v2\n")
        for i in range(6, N + 1):
            self.assertEqual(self.host_text(i, f"{self.base}/runs"), "")

    def test_kill9_mid_rollout_then_resume(self):
        # Hosts 4 and later hold their command until `go` exists: the kill comes while h04 is
        # in flight and h05..h10 have not started, on any machine.
        go = os.path.join(self.tmp, "go")
        self.write("checklists/slow.toml", textwrap.dedent(f"""\
            name = "slow"

            [[step]]
            id = "roll"
            on = "env:prod"
            serial = 1
            sh = "mkdir -p {self.base}; echo run >> {self.base}/runs; if [ -e {self.base}/hold ]; then while [ ! -e {go} ]; do sleep 0.05; done; fi"
            """))
        for i in range(4, N + 1):
            self.on_host(i, f"mkdir -p {self.base} && touch {self.base}/hold")
        self.ss("exec", "group:all", "--", "true")  # agents in place
        proc = self.start_ss("run", "checklists/slow.toml", "--env", "prod")
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        # Wait until h04 started (h01-h03 finished), then kill shipshape and its whole group.
        self.wait_for(lambda: self.host_text(4, f"{self.base}/runs") != "",
                      what="three hosts rolled and h04 started")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=120)
        # Let a command orphaned on its host by the kill end, and wait until it has.
        open(go, "w").close()
        marker = f"{self.base}/runs"
        self.wait_for(lambda: not processes_mentioning(marker), what="orphaned commands to end")
        before = {i: self.host_text(i, f"{self.base}/runs").count("run") for i in range(1, N + 1)}
        self.assertEqual(before, {i: 1 if i <= 4 else 0 for i in range(1, N + 1)})
        r = self.ss("--json", "resume", "last")
        self.assertEqual(r.code, 0, r)
        self.wait_for(lambda: not processes_mentioning(marker), what="the commands to end")
        after = {i: self.on_host(i, f"cat {self.base}/runs").count("run")
                 for i in range(1, N + 1)}
        # Hosts that finished before the kill never ran again; every host ran; only the host
        # in flight at the kill (h04) may have run twice.
        self.assertEqual({i: n for i, n in after.items() if i != 4},
                         {i: 1 for i in range(1, N + 1) if i != 4}, after)
        self.assertIn(after[4], (1, 2), after)


if __name__ == "__main__":
    unittest.main()
