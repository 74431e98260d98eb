"""Pull mode (docs/agent.md, #20): `agent pull` fetches the ops repo with git, converges this
host from it under --root, keeps the last good commit when a commit is broken, and reports
to the team server (real `shipshape serve`, loopback) idempotently. Both binaries: the static
shipshape-agent and `shipshape agent`."""
import fcntl
import json
import os
import signal
import subprocess
import textwrap
import time

from harness import BIN, RepoTestCase, require

AGENT = os.path.join(os.path.dirname(os.path.abspath(BIN)), "shipshape-agent")


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {r.stderr}")
    return r.stdout.strip()


class PullTestCase(RepoTestCase):
    binary = AGENT

    def setUp(self):
        super().setUp()
        require(self, subprocess.run(["git", "--version"], capture_output=True).returncode == 0,
                "git")
        self.origin = os.path.join(self.tmp, "origin")
        os.makedirs(os.path.join(self.origin, "states"))
        git(self.origin, "init", "-q", "-b", "main")
        self.put("shipshape.toml", 'name = "fleet"\n[roles]\nweb = ["states/web.toml"]\n')
        self.put("inventory.toml", textwrap.dedent("""\
            [env.prod]
            hosts = ["web-7"]
            [host.web-7]
            address = "10.99.0.7"
            [group.web]
            hosts = ["web-7"]
            roles = ["web"]
            """))
        self.put("states/web.toml", self.web_state("v1"))
        self.commit("first")
        self.target = os.path.join(self.tmp, "root")
        os.makedirs(self.target)
        self.work = os.path.join(self.tmp, "work")

    def web_state(self, version):
        return textwrap.dedent(f"""\
            [[directory]]
            path = "/srv/web"
            mode = "0755"

            [[file]]
            path = "/srv/web/version"
            content = "{version}\\n"
            mode = "0644"
            """)

    def put(self, rel, text):
        path = os.path.join(self.origin, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def commit(self, message):
        git(self.origin, "add", "-A")
        git(self.origin, "commit", "-q", "-m", message)
        return git(self.origin, "rev-parse", "HEAD")

    def pull(self, *extra, binary=None, env=None, host="web-7"):
        """One cycle; returns the process and its JSON line (or --json error document)."""
        args = [binary or self.binary, "--json", "agent", "pull", "--once", "--repo", self.origin,
                "--host", host, "--root", self.target, "--dir", self.work, *extra]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120,
                           env=env or self.env)
        lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
        try:
            doc = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            doc = json.loads(r.stdout)  # an error document, printed over several lines
        return r, doc

    def deployed(self):
        path = os.path.join(self.target, "srv", "web", "version")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()


class PullConvergeTest(PullTestCase):
    def test_converges_then_keeps_the_last_good_commit(self):
        first = git(self.origin, "rev-parse", "HEAD")
        r, doc = self.pull()
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.deployed(), "v1\n")
        self.assertEqual((doc["result"], doc["commit"], doc["applied_commit"]),
                         ("converged", first, first))
        self.assertEqual(doc["host"], "web-7")
        self.assertEqual(doc["apply"]["changed"], 2)
        self.assertEqual(doc["drift"]["drifted"], 0)

        # A second cycle with nothing new changes nothing.
        r, doc = self.pull()
        self.assertEqual((r.returncode, doc["apply"]["changed"]), (0, 0), r)

        # A broken commit: invalid TOML in the state file. Nothing of it is applied, the host
        # keeps converging to the last good commit (drift put back too), exit 2.
        self.put("states/web.toml", self.web_state("v2") + "\n[[file]\npath = \"/x\"\n")
        broken = self.commit("broken")
        with open(os.path.join(self.target, "srv", "web", "version"), "w") as f:
            f.write("tampered\n")
        r, doc = self.pull()
        self.assertEqual(r.returncode, 2, r)
        self.assertEqual(doc["result"], "invalid")
        self.assertEqual((doc["commit"], doc["applied_commit"]), (broken, first))
        self.assertRegex(doc["error"], r"states/web\.toml:\d+:\d+")
        self.assertEqual(self.deployed(), "v1\n", "the last good state, not v2, not tampered")

        # The fix converges to the new commit.
        self.put("states/web.toml", self.web_state("v3"))
        fixed = self.commit("fixed")
        r, doc = self.pull()
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(doc["applied_commit"], fixed)
        self.assertEqual(self.deployed(), "v3\n")

    def test_a_host_missing_from_the_inventory_is_invalid(self):
        r, doc = self.pull(host="db-1")
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("db-1", doc["error"])
        self.assertIsNone(self.deployed())

    def test_an_unreachable_repo_fails_and_keeps_the_last_good_state(self):
        self.assertEqual(self.pull()[0].returncode, 0)
        os.rename(self.origin, self.origin + ".gone")
        with open(os.path.join(self.target, "srv", "web", "version"), "w") as f:
            f.write("tampered\n")
        r, doc = self.pull()
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(doc["result"], "failed")
        self.assertIn("fetching", doc["error"])
        self.assertEqual(self.deployed(), "v1\n")

    def test_a_failing_apply_is_failed(self):
        # /srv/web/version is wanted as a file under a path that is a file: the apply fails.
        self.put("states/web.toml", textwrap.dedent("""\
            [[file]]
            path = "/srv/blocker"
            content = "a file\\n"

            [[file]]
            path = "/srv/blocker/inside"
            content = "cannot be\\n"
            """))
        self.commit("impossible")
        r, doc = self.pull()
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(doc["result"], "failed")
        self.assertGreaterEqual(doc["apply"]["failed"] + doc["drift"]["drifted"], 1)

    def test_two_pulls_never_overlap(self):
        os.makedirs(self.work)
        with open(os.path.join(self.work, "lock"), "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            held.write("4242\n")
            held.flush()
            r, doc = self.pull()
        self.assertNotEqual(r.returncode, 0, r)
        self.assertEqual(doc["error"]["code"], "conflict")
        self.assertIn("another pull is running", r.stdout + r.stderr)
        self.assertIn("4242", r.stdout + r.stderr)
        self.assertIsNone(self.deployed())

    def test_the_full_binary_pulls_too(self):
        r, doc = self.pull(binary=BIN)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.deployed(), "v1\n")

    def test_every_and_splay_repeat_until_stopped(self):
        p = subprocess.Popen([self.binary, "--json", "agent", "pull", "--repo", self.origin,
                              "--host", "web-7", "--root", self.target, "--dir", self.work,
                              "--every", "1s", "--splay", "0s"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.env)
        lines = []
        deadline = time.monotonic() + 60
        while len(lines) < 2 and time.monotonic() < deadline:
            line = p.stdout.readline()
            if line.startswith("{"):
                lines.append(json.loads(line))
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertGreaterEqual(len(lines), 2, err)
        self.assertNotEqual(lines[0]["run"], lines[1]["run"])


    def test_a_bad_schedule_is_refused_before_anything_runs(self):
        for flags, message in [(["--every", "0s"], '--every "0s": expected a duration above 0'),
                               (["--every", "soon"], '--every "soon": expected a duration'),
                               (["--splay", "-"], '--splay "-": expected a duration')]:
            for command in (["pull"], ["install-timer", "--unit-dir",
                                       os.path.join(self.tmp, "units")]):
                r = subprocess.run([self.binary, "agent", *command, "--repo", self.origin,
                                    "--host", "web-7", "--root", self.target, "--dir",
                                    self.work, *flags],
                                   capture_output=True, text=True, timeout=60, env=self.env)
                self.assertEqual(r.returncode, 2, r)
                self.assertIn(message, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "units")))
        self.assertIsNone(self.deployed())


class InstallTimerTest(PullTestCase):
    def test_writes_a_service_and_a_timer(self):
        units = os.path.join(self.tmp, "units")
        r = subprocess.run([self.binary, "agent", "install-timer", "--repo", self.origin,
                            "--report", "http://127.0.0.1:1", "--token-file", "/etc/token",
                            "--every", "5m", "--splay", "1m", "--unit-dir", units,
                            "--set", "greeting=50% off"],
                           capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 0, r)
        with open(os.path.join(units, "shipshape-pull.service")) as f:
            service = f.read()
        with open(os.path.join(units, "shipshape-pull.timer")) as f:
            timer = f.read()
        self.assertIn(f'ExecStart="{os.path.realpath(self.binary)}" agent pull --once '
                      f'"--repo" "{self.origin}"', service)
        self.assertIn('"--token-file" "/etc/token"', service)
        self.assertIn('"greeting=50%% off"', service, "systemd specifiers escaped")
        self.assertIn("SuccessExitStatus=2", service)
        self.assertIn("OnUnitActiveSec=300s", timer)
        self.assertIn("RandomizedDelaySec=60s", timer)
        verify = subprocess.run(["systemd-analyze", "verify",
                                 os.path.join(units, "shipshape-pull.service")],
                                capture_output=True, text=True) \
            if os.path.exists("/usr/bin/systemd-analyze") else None
        if verify is not None:
            self.assertNotIn("Unknown key", verify.stderr)
            self.assertNotIn("Invalid", verify.stderr)


class PullReportTest(PullTestCase):
    """Reports to the team server (a real `shipshape serve` on loopback, SQLite store of the
    test's ops repo) with the host's own token, spooled while the server is down, and straight
    into the store with the full binary."""

    def setUp(self):
        super().setUp()
        r = self.shipshape("user", "add", "web-7", "--roles", "host")
        self.assertEqual(r.code, 0, r)
        self.token_file = os.path.join(self.tmp, "token")
        with open(self.token_file, "w") as f:
            f.write(self.shipshape("user", "token", "web-7").out.strip() + "\n")
        os.chmod(self.token_file, 0o600)
        self.server = None

    def tearDown(self):
        self.stop_server()
        super().tearDown()

    def start_server(self):
        self.server = self.start("serve", "--listen", "127.0.0.1:0")
        line = self.server.stdout.readline()
        self.assertTrue(line.startswith("listening on http://127.0.0.1:"), line)
        return line.split()[-1].rstrip("/")

    def stop_server(self):
        if self.server and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            self.server.communicate(timeout=30)
        self.server = None

    def reports(self, *args):
        r = self.shipshape("--json", "fleet", "reports", *args)
        self.assertEqual(r.code, 0, r)
        return r.json()["reports"]

    def spooled(self):
        spool = os.path.join(self.work, "spool")
        return sorted(os.listdir(spool)) if os.path.isdir(spool) else []

    def test_reports_spools_while_the_server_is_down_and_catches_up(self):
        url = self.start_server()
        r, doc = self.pull("--report", url, "--token-file", self.token_file)
        self.assertEqual(r.returncode, 0, r)
        self.assertTrue(doc["reported"], doc)
        latest = self.reports()
        self.assertEqual([(x["host"], x["result"]) for x in latest], [("web-7", "converged")])
        self.assertEqual(latest[0]["run"], doc["run"])

        # The server goes away: the cycle still converges, the report waits in the spool and
        # the exit code says it was not delivered.
        self.stop_server()
        r, doc = self.pull("--report", url, "--token-file", self.token_file)
        self.assertEqual(r.returncode, 1, r)
        self.assertFalse(doc["reported"])
        self.assertEqual(doc["result"], "converged")
        self.assertEqual(len(self.spooled()), 1)
        late_run = doc["run"]

        # Back (on another port): the spooled report goes first, then this cycle's.
        url = self.start_server()
        r, doc = self.pull("--report", url, "--token-file", self.token_file)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("sent 1 spooled report", " ".join(doc["notes"]))
        self.assertEqual(self.spooled(), [])
        runs = [x["run"] for x in self.reports("--host", "web-7", "--limit", "10")]
        self.assertEqual(len(runs), 3, runs)
        self.assertIn(late_run, runs)

    def test_another_hosts_token_is_refused_and_the_report_dropped(self):
        r = self.shipshape("user", "add", "db-1", "--roles", "host")
        self.assertEqual(r.code, 0, r)
        with open(self.token_file, "w") as f:
            f.write(self.shipshape("user", "token", "db-1").out.strip() + "\n")
        url = self.start_server()
        r, doc = self.pull("--report", url, "--token-file", self.token_file)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("403", doc["report_error"])
        self.assertEqual(self.spooled(), [], "a refused report is never sent again")
        self.assertEqual(self.reports(), [])

    def test_the_full_binary_reports_into_a_store(self):
        store = os.path.join(self.repo, ".shipshape", "state.db")
        r, doc = self.pull("--report", store, binary=BIN)
        self.assertEqual(r.returncode, 0, r)
        self.assertTrue(doc["reported"], doc)
        self.assertEqual([x["run"] for x in self.reports()], [doc["run"]])
        # The static agent cannot open a store, and says what to use instead.
        r, _ = self.pull("--report", store)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("shipshape agent pull", r.stdout + r.stderr)

    def test_old_reports_are_pruned_but_each_hosts_newest_kept(self):
        url = self.start_server()
        for _ in range(3):
            r, _ = self.pull("--report", url, "--token-file", self.token_file)
            self.assertEqual(r.returncode, 0, r)
        self.assertEqual(len(self.reports("--host", "web-7")), 3)
        time.sleep(1.1)
        r = self.shipshape("--json", "fleet", "prune-reports", "--older-than", "1s")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["removed"], 2)
        self.assertEqual(len(self.reports("--host", "web-7")), 1, "the newest stays")
        r = self.shipshape("fleet", "prune-reports", "--older-than", "soon")
        self.assertEqual(r.code, 2, r)
        self.assertIn("--older-than 'soon'", r.err)
