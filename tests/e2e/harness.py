"""Shared helpers for black-box tests: they run the built shipshape binary (SHIPSHAPE_BIN)
against ops repos made in temporary directories, and never touch anything else."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

BIN = os.environ.get("SHIPSHAPE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "dev", "src", "cli", "shipshape")


class Result:
    def __init__(self, proc_result):
        self.code = proc_result.returncode
        self.out = proc_result.stdout
        self.err = proc_result.stderr

    def json(self):
        return json.loads(self.out)

    def json_lines(self):
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def __repr__(self):
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class RepoTestCase(unittest.TestCase):
    """Each test gets a fresh ops repo in a temporary directory."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shipshape-e2e-")
        self.repo = os.path.join(self.tmp, "ops")
        os.makedirs(os.path.join(self.repo, "checklists"))
        self.write("shipshape.toml", 'name = "test"\nsecrets = ["SHIPSHAPE_TEST_SECRET"]\n')
        self.write("inventory.toml", textwrap.dedent("""\
            [env.local]
            hosts = ["localhost"]
            [env.staging]
            hosts = ["stage1"]
            """))
        self.env = dict(os.environ)
        self.env.pop("SHIPSHAPE_TEST_SECRET", None)
        self.env["NO_COLOR"] = "1"

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, rel, text):
        path = os.path.join(self.repo, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text).lstrip("\n") if text.startswith("\n") else text)
        return path

    def read(self, rel):
        with open(os.path.join(self.repo, rel)) as f:
            return f.read()

    def shipshape(self, *args, cwd=None, timeout=120, env=None):
        r = subprocess.run([BIN, *args], cwd=cwd or self.repo, capture_output=True, text=True,
                           timeout=timeout, env=env or self.env, stdin=subprocess.DEVNULL)
        return Result(r)

    def start(self, *args, env=None):
        """Starts shipshape in the background (its own session, like a terminal job)."""
        return subprocess.Popen([BIN, *args], cwd=self.repo, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env or self.env,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    def show(self, run_id):
        r = self.shipshape("--json", "show", run_id)
        self.assertEqual(r.code, 0, r)
        return r.json()

    def step_states(self, run_id):
        return {s["id"]: s["state"] for s in self.show(run_id)["steps"]}

    def wait_for(self, predicate, timeout=90.0, what="condition"):
        """Polls `predicate` until it is true; fails after `timeout` seconds (generous: a
        loaded 2-core machine is slow, and a passing test never waits that long)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        self.fail(f"timed out waiting for {what}")

    def run_id_of(self, result):
        for doc in reversed(result.json_lines()):
            if doc.get("kind") == "run-report":
                return doc["run"]["id"]
        self.fail(f"no run-report in {result}")


def read_text(path):
    """The file's text, or "" when it does not exist (yet). A /proc/PID file of a process that
    exits between the listing of /proc and the read is absent too: reading it then fails with
    ESRCH (ProcessLookupError), not ENOENT."""
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def require(test, condition, reason):
    """Skips `test` when the machine lacks something (a privilege, tool or kernel feature);
    with SHIPSHAPE_REQUIRE_ALL=1 (as in CI) such a skip is a failure instead. Every skip of the
    e2e tests goes through here; run.py maps a run with skips to exit 77 (ctest: Skipped)."""
    if condition:
        return
    if os.environ.get("SHIPSHAPE_REQUIRE_ALL") == "1":
        test.fail(f"required but unavailable: {reason}")
    test.skipTest(reason)


def pid_alive(pid):
    """True when pid runs and is not a zombie."""
    stat = read_text(f"/proc/{pid}/stat")
    if not stat:
        return False
    state = stat[stat.rfind(")") + 2]
    return state not in "ZX"


class FleetTestCase(RepoTestCase):
    """A RepoTestCase with a test fleet (fleet.py) of `fleet_size` hosts, shared by the class:
    brought up once before its tests, taken down after them. Without root or namespaces every
    test reports the reason through require() (a failure under SHIPSHAPE_REQUIRE_ALL=1)."""
    fleet_size = 2
    fleet = None
    unsupported = None

    @classmethod
    def setUpClass(cls):
        from fleet import Fleet, FleetUnsupported  # fleet.py imports nothing of ours
        try:
            cls.fleet = Fleet(cls.fleet_size).up()
        except FleetUnsupported as e:
            cls.unsupported = str(e)

    @classmethod
    def tearDownClass(cls):
        if cls.fleet:
            cls.fleet.down()

    def setUp(self):
        super().setUp()
        require(self, self.fleet is not None, f"a test fleet: {self.unsupported}")
