"""The fleet (issue #6) against real hosts: a test fleet of network namespaces, each running
Debian's sshd (fleet.py). shipshape runs in the fleet's controller namespace and reaches the
hosts with the system ssh client and its own agent."""
import json
import os
import signal
import subprocess
import textwrap
import time
import unittest

from fleet import Fleet, FleetUnsupported
from harness import BIN, RepoTestCase, Result, require

N = 10


class FleetTestCase(RepoTestCase):
    fleet = None
    unsupported = None

    @classmethod
    def setUpClass(cls):
        try:
            cls.fleet = Fleet(N).up()
        except FleetUnsupported as e:
            cls.unsupported = str(e)

    @classmethod
    def tearDownClass(cls):
        if cls.fleet:
            cls.fleet.down()

    def setUp(self):
        super().setUp()
        require(self, self.fleet is not None, f"a test fleet: {self.unsupported}")
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
        r = self.fleet.ssh(i, command)
        return r.stdout

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
        stamp = "stat -c %i:%Y ~/.cache/shipshape/shipshape-*"
        facts = ("facts", "group:all", "--only", "os")
        self.assertEqual(self.ss(*facts).code, 0)
        before = {i: self.on_host(i, stamp) for i in range(1, N + 1)}
        self.fleet.restart_host(7)  # an empty home: the agent is gone there
        time.sleep(1.1)  # a new copy would get a new mtime
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
        r = self.ss("--json", "exec", "h01,h02", "--timeout", "1s", "--sh",
                    f"mkdir -p {self.base}; sleep 3; touch {self.base}/late")
        self.assertEqual(r.code, 1, r)
        for h in self.hosts_json(r).values():
            self.assertEqual((h["status"], h["exit"]), ("failed", "timed_out"), h)
        time.sleep(2.5)
        self.assertEqual(self.on_host(1, f"ls {self.base}"), "", "the command went on")

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
        proc = self.start_ss("--json", "exec", "group:all", "--timeout", "30s", "--sh",
                             "sleep 1.5; echo done")
        time.sleep(0.6)
        self.fleet.kill_host(4)
        out, err = proc.communicate(timeout=60)
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
        self.fleet.restart_host(4)

    def test_rolling_checklist_with_serial_and_max_fail(self):
        self.write("checklists/roll.toml", textwrap.dedent(f"""\
            name = "roll"

            [[step]]
            id = "deploy"
            on = "group:web"
            serial = 2
            max_fail = 1
            sh = "mkdir -p {self.base} && echo run >> {self.base}/runs && test ! -e {self.base}/broken && echo v2 > {self.base}/version"
            verify = {{ sh = "grep -qx v2 {self.base}/version" }}

            [[step]]
            id = "announce"
            needs = ["deploy"]
            run = ["true"]
            """))
        self.on_host(3, f"mkdir -p {self.base} && touch {self.base}/broken")
        # The plan names the hosts and runs nothing anywhere.
        r = self.ss("--json", "run", "checklists/roll.toml", "--env", "prod", "--plan")
        self.assertEqual(r.code, 0, r)
        step = r.json()["steps"][0]
        self.assertEqual(step["reason"], "on 5 hosts (h01, h02, h03, h04, h05), 2 at a time")
        self.assertEqual(self.on_host(1, f"cat {self.base}/runs 2>/dev/null"), "")
        r = self.ss("--json", "run", "checklists/roll.toml", "--env", "prod")
        self.assertEqual(r.code, 1, r)
        run_id = self.run_id_of(r)
        states = self.step_states(run_id)
        self.assertEqual(states["deploy"], "failed")
        self.assertEqual(states["deploy@h03"], "failed")
        self.assertEqual(states["announce"], "pending")
        # serial = 2: h01 and h02 start; the first to finish lets h03 in; h03's failure stops
        # the rollout, so h05 (never in a window with h03 free) does not start.
        self.assertNotIn("deploy@h05", states)
        self.assertEqual(self.on_host(5, f"cat {self.base}/runs 2>/dev/null"), "")
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
            self.assertEqual(self.on_host(i, f"cat {self.base}/runs 2>/dev/null"), "")

    def test_kill9_mid_rollout_then_resume(self):
        self.write("checklists/slow.toml", textwrap.dedent(f"""\
            name = "slow"

            [[step]]
            id = "roll"
            on = "env:prod"
            serial = 1
            sh = "sleep 0.4; mkdir -p {self.base}; echo run >> {self.base}/runs"
            """))
        self.ss("exec", "group:all", "--", "true")  # agents in place
        proc = self.start_ss("run", "checklists/slow.toml", "--env", "prod")
        # Wait until three hosts finished, then kill shipshape and everything in its group.
        self.wait_for(lambda: self.on_host(3, f"cat {self.base}/runs 2>/dev/null") != "",
                      timeout=60, what="three hosts rolled")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        before = {i: self.on_host(i, f"cat {self.base}/runs 2>/dev/null").count("run")
                  for i in range(1, N + 1)}
        self.assertTrue(all(before[i] == 1 for i in (1, 2, 3)), before)
        self.assertLess(sum(before.values()), N, before)
        r = self.ss("--json", "resume", "last")
        self.assertEqual(r.code, 0, r)
        time.sleep(0.5)  # a run killed on its host would have had time to finish
        after = {i: self.on_host(i, f"cat {self.base}/runs").count("run")
                 for i in range(1, N + 1)}
        # Hosts that finished before the kill never ran again; every host ran; only the host
        # in flight at the kill may have run twice (its command was stopped or had finished).
        for i in range(1, N + 1):
            if before[i] == 1 and i <= 3:
                self.assertEqual(after[i], 1, f"h{i:02d} ran again: {after}")
            self.assertGreaterEqual(after[i], 1, after)
        self.assertLessEqual(sum(after.values()), N + 1, after)


if __name__ == "__main__":
    unittest.main()
