"""shipshape fault, black box: exit statuses, reports, profiles with timelines, bad input that
runs nothing, unprivileged runs, and teardown after Ctrl-C and kill -9. The kernel-level
behaviour of each fault is covered from inside by src/faults/sandbox_test.cpp; here each
command-line path is exercised once against the real kernel."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import unittest

from harness import BIN, RepoTestCase, pid_alive, require

UDP_COUNT = textwrap.dedent("""\
    import socket, sys
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    got = 0
    for i in range(int(sys.argv[1])):
        tx.sendto(b"x", rx.getsockname())
        try:
            rx.recv(10); got += 1
        except BlockingIOError:
            pass
    print(got)
    """)

# An interpreter an unprivileged user can run (a pyenv under /root is not one).
SYSTEM_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def proc_text(path):
    """A /proc file's text, or "" when its process is gone (or going) meanwhile."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def ppid_of(pid):
    fields = [l.split() for l in proc_text(f"/proc/{pid}/status").splitlines()]
    return next((int(f[1]) for f in fields if f and f[0] == "PPid:"), None)


def memory_cgroup_root():
    """Where memory cgroups are made here (v1's memory hierarchy, or v2's unified one), or
    None."""
    if os.path.exists("/sys/fs/cgroup/memory/cgroup.procs"):
        return "/sys/fs/cgroup/memory"
    if "memory" in proc_text("/sys/fs/cgroup/cgroup.controllers"):
        return "/sys/fs/cgroup"
    return None


class SandboxProcesses:
    """Finding a sandbox's processes, mounts and cgroup from outside (mixed into TestCases)."""

    def start_sandboxed_sleeper(self, *faults, binary=BIN, script="sleep 60"):
        """Starts `binary fault` running `sh -c SCRIPT` with a unique marker (its own
        session); returns (proc, marker) once the command runs."""
        marker = f"shipshape-e2e-sleeper-{os.getpid()}-{time.monotonic_ns()}"
        proc = subprocess.Popen(
            [binary, "fault", "-q", *faults, "--", "sh", "-c", f"{script}; : {marker}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.addCleanup(self.kill_session, proc)
        self.wait_for(lambda: self.pids_with(marker), what="the sandboxed command")
        return proc, marker

    def pids_with(self, marker):
        """The live shells running a script with `marker` (not the shipshape processes, whose
        argv holds the script too)."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                cmdline = proc_text(f"/proc/{entry}/cmdline")
                if marker in cmdline and cmdline.startswith("sh\0"):
                    pids.append(int(entry))
        return [p for p in pids if pid_alive(p)]

    def children_of(self, pid):
        return [int(e) for e in filter(str.isdigit, os.listdir("/proc")) if ppid_of(e) == pid]

    def pids_seeing_mount(self, path):
        """Processes whose mount namespace has a mount on `path`."""
        return [int(e) for e in filter(str.isdigit, os.listdir("/proc"))
                if f" {path} " in proc_text(f"/proc/{e}/mountinfo")]

    def cgroup_of(self, supervisor):
        """The memory cgroup of the sandbox whose supervisor is `supervisor`, or None. Named
        shipshape-fault-PID-STARTTIME (shipshape-fault-PID before records were kept)."""
        for root in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup"):
            found = glob.glob(f"{root}/shipshape-fault-{supervisor}-*")
            found += glob.glob(f"{root}/shipshape-fault-{supervisor}")
            if found:
                return found[0]
        return None

    def kill_session(self, proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()

    def sleep_children_of(self, parents):
        return [int(e) for e in filter(str.isdigit, os.listdir("/proc"))
                if proc_text(f"/proc/{e}/cmdline").startswith("sleep\0")
                and ppid_of(e) in parents and pid_alive(int(e))]


class FaultTest(SandboxProcesses, RepoTestCase):
    def setUp(self):
        super().setUp()
        self.script = os.path.join(self.tmp, "udp_count.py")
        with open(self.script, "w") as f:
            f.write(UDP_COUNT)
        os.chmod(self.tmp, 0o755)

    def report(self, path):
        with open(path) as f:
            return json.load(f)

    def test_exit_status_and_report(self):
        report = os.path.join(self.tmp, "r.json")
        r = self.shipshape("fault", "--loss", "100/udp", "--report", report, "--",
                           sys.executable, self.script, "50")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out.strip(), "0")  # every datagram lost
        doc = self.report(report)
        self.assertEqual(doc["schema"], "shipshape.fault-report/1")
        [fault] = doc["faults"]
        self.assertEqual(fault["kind"], "loss")
        self.assertTrue(fault["fired"])
        self.assertEqual(fault["counts"]["packets_dropped"], 50)
        self.assertEqual(doc["commands"][0]["status"], 0)
        self.assertIn("FIRED", r.err)
        # The command's own status is shipshape's.
        r = self.shipshape("fault", "-q", "--", "sh", "-c", "exit 7")
        self.assertEqual(r.code, 7, r)
        self.assertEqual(r.err, "")
        r = self.shipshape("fault", "-q", "--", "sh", "-c", "kill -TERM $$")
        self.assertEqual(r.code, 128 + signal.SIGTERM, r)

    def test_profile_by_name_with_a_timeline(self):
        self.write("faults/flaky.toml", textwrap.dedent("""\
            name = "flaky"
            [[fault]]
            kind = "loss"
            percent = 100
            proto = "udp"
            start = "1s"
            stop = "2s"
            """))
        probe = os.path.join(self.tmp, "probe.py")
        with open(probe, "w") as f:
            # Probes until it has seen the fault come and go (no fixed times: a slow start only
            # shortens the first phase); prints the phases seen and how many probes were lost.
            f.write(textwrap.dedent("""\
                import socket, time
                rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 0))
                rx.setblocking(False)
                tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                phases, lost = [], 0
                deadline = time.monotonic() + 120
                while phases[-2:] != ["lost", "ok"] and time.monotonic() < deadline:
                    tx.sendto(b"x", rx.getsockname())
                    try:
                        rx.recv(10); state = "ok"
                    except BlockingIOError:
                        state = "lost"; lost += 1
                    if not phases or phases[-1] != state:
                        phases.append(state)
                    time.sleep(0.01)
                print(" ".join(phases), lost)
                """))
        report = os.path.join(self.tmp, "r.json")
        r = self.shipshape("fault", "--profile", "flaky", "--report", report, "--",
                           sys.executable, probe)
        self.assertEqual(r.code, 0, r)
        *phases, lost = r.out.split()
        # Loopback delivers at once, so a datagram is lost only while the fault is on. The
        # "ok" before the window is missing only when Python took a whole second to start.
        self.assertIn(" ".join(phases), ("ok lost ok", "lost ok"), r)
        [fault] = self.report(report)["faults"]
        self.assertEqual(fault["counts"]["packets_dropped"], int(lost))
        # When the fault was really switched: not before the edges written in the profile.
        [[on, off]] = fault["active_ms"]
        self.assertGreaterEqual(on, 1000)
        self.assertGreaterEqual(off, max(on, 2000))
        self.assertTrue(fault["origin"].endswith("faults/flaky.toml:2:1"))

    def test_outside_an_ops_repo(self):
        # self.tmp holds the ops repo in ops/ but is not inside one.
        profile = os.path.join(self.tmp, "p.toml")
        with open(profile, "w") as f:
            f.write('[[fault]]\nkind = "loss"\npercent = 100\nproto = "udp"\n')
        report = os.path.join(self.tmp, "r.json")
        r = self.shipshape("fault", "--profile", profile, "--block-port", "9", "--report",
                           report, "--", sys.executable, self.script, "5", cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out.strip(), "0")
        self.assertEqual([f["kind"] for f in self.report(report)["faults"]],
                         ["loss", "block-port"])
        # A name needs an ops repo: found with -C, else the error says there is none.
        self.write("faults/flaky.toml", '[[fault]]\nkind = "dns-fail"\n')
        r = self.shipshape("-C", "ops", "fault", "-q", "--profile", "flaky", "--", "true",
                           cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        r = self.shipshape("fault", "--profile", "flaky", "--", "true", cwd=self.tmp)
        self.assertEqual(r.code, 2, r)
        self.assertIn("fault profile 'flaky': no such file, and no ops repo to look in", r.err)

    def test_bad_input_runs_nothing(self):
        marker = os.path.join(self.tmp, "ran")
        cmd = ["--", "touch", marker]
        r = self.shipshape("fault", "--loss", "120", *cmd)
        self.assertEqual(r.code, 2, r)
        self.assertEqual(r.err.strip(), "shipshape: --loss '120': expected PCT[/tcp|udp] with "
                                        "PCT from 1 to 100, e.g. 20 or 20/udp")
        self.write("faults/bad.toml", '[[fault]]\nkind = "block-port"\nport = 99999\n')
        r = self.shipshape("fault", "--profile", "faults/bad.toml", *cmd)
        self.assertEqual(r.code, 2, r)
        self.assertIn("faults/bad.toml:1:1: a block-port fault: expected PORT[/tcp|udp]"
                      "[:reject|drop] with PORT from 1 to 65535", r.err)
        r = self.shipshape("fault", "--reset-after", "10K", *cmd)
        self.assertEqual(r.code, 2, r)
        self.assertIn("--reset-after BYTES and --port PORT go together", r.err)
        r = self.shipshape("fault", "--disk-full", os.path.join(self.tmp, "missing") + ":1M",
                           *cmd)
        self.assertEqual(r.code, 2, r)
        self.assertIn("must be an existing directory", r.err)
        r = self.shipshape("fault", "--memory", "64M", "--memory", "32M", *cmd)
        self.assertEqual(r.code, 2, r)
        r = self.shipshape("fault", "--loss", "5")
        self.assertEqual(r.code, 2, r)
        self.assertIn("no command: write it after '--'", r.err)
        self.assertFalse(os.path.exists(marker))

    def test_unprivileged_network_and_disk_faults(self):
        require(self, os.geteuid() == 0, "needs root to switch to an unprivileged user")
        disk = os.path.join(self.tmp, "disk")
        os.mkdir(disk)
        os.chmod(disk, 0o777)
        report = os.path.join(self.tmp, "r.json")
        os.close(os.open(report, os.O_CREAT | os.O_WRONLY, 0o666))
        os.chmod(report, 0o666)
        r = subprocess.run(
            NOBODY + [BIN, "fault", "--loss", "100/udp", "--disk-full", disk + ":64K",
                      "--report", report, "--", "sh", "-c",
                      f"{SYSTEM_PYTHON} {self.script} 10; "
                      f"dd if=/dev/zero of={disk}/fill bs=4k count=100 2>&1 | grep -c 'No space'"],
            capture_output=True, text=True, timeout=60, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["0", "1"])
        self.assertIn("unprivileged: user namespace", r.stderr)
        doc = self.report(report)
        self.assertTrue(doc["user_namespace"])
        self.assertTrue(all(f["fired"] for f in doc["faults"]), doc)
        self.assertFalse(os.path.exists(os.path.join(disk, "fill")))
        # What needs real root says so, exit 3, and runs nothing.
        marker = os.path.join(self.tmp, "ran")
        r = subprocess.run(NOBODY + [BIN, "fault", "--memory", "64M", "--", "touch", marker],
                           capture_output=True, text=True, timeout=60, cwd=self.tmp)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("--memory needs root", r.stderr)
        self.assertFalse(os.path.exists(marker))

    def start_interruptible(self, report, script):
        """Starts shipshape fault (its own session) running `sh -c SCRIPT; : MARKER` and waits
        until the shell's `sleep` child really runs, so a signal now cannot land between the
        shell's fork and the sleep's exec. Returns (proc, marker)."""
        marker = f"shipshape-e2e-sleeper-{os.getpid()}-{time.monotonic_ns()}"
        proc = subprocess.Popen(
            [BIN, "fault", "--loss", "10", "--report", report, "--", "sh", "-c",
             f"{script}; : {marker}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.addCleanup(self.kill_session, proc)
        self.wait_for(lambda: self.sleep_children_of(self.pids_with(marker)),
                      timeout=120, what="the sandboxed sleep")
        return proc, marker

    def test_ctrl_c_stops_the_command_and_still_reports(self):
        report = os.path.join(self.tmp, "r.json")
        proc, marker = self.start_interruptible(report, "sleep 600")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 130, err)
        self.assertEqual(self.report(report)["commands"][0]["status"], 130)
        self.assertEqual(self.pids_with(marker), [])

    def test_ctrl_c_reaches_a_command_that_ignores_sigint(self):
        # The command ignores SIGINT: after the grace, SIGTERM ends it.
        report = os.path.join(self.tmp, "r.json")
        proc, marker = self.start_interruptible(report, "trap '' INT; sleep 600")
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 130, err)
        self.assertEqual(self.report(report)["commands"][0]["status"], 128 + signal.SIGTERM)
        self.assertEqual(self.pids_with(marker), [])

    def test_sigint_to_shipshape_alone_is_forwarded(self):
        # Only shipshape gets it (kill -INT PID, or the shell lost its share of a Ctrl-C):
        # the command still has to stop.
        report = os.path.join(self.tmp, "r.json")
        proc, marker = self.start_interruptible(report, "sleep 600")
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 130, err)
        self.assertEqual(self.report(report)["commands"][0]["status"], 130)
        self.assertEqual(self.pids_with(marker), [])

    def test_check_and_json(self):
        r = self.shipshape("fault", "--check", "--loss", "5", "--latency", "10",
                           "--bandwidth", "1mbit", "--dns-fail")
        self.assertEqual(r.code, 0, r)
        self.assertIn("every asked fault can be set up here", r.err)
        r = self.shipshape("--json", "fault", "-q", "--block-port", "9", "--", "true")
        self.assertEqual(r.code, 0, r)
        doc = json.loads(r.out)
        self.assertEqual(doc["faults"][0]["kind"], "block-port")
        self.assertFalse(doc["faults"][0]["fired"])

    def test_bandwidth_reset_and_clock_skew(self):
        tool = os.path.join(self.tmp, "net.py")
        with open(tool, "w") as f:
            f.write(textwrap.dedent("""\
                import socket, sys, threading, time
                mode = sys.argv[1]
                srv = socket.socket(); srv.bind(("127.0.0.1", 7000)); srv.listen()
                def serve():
                    c, _ = srv.accept()
                    try:
                        c.sendall(b"x" * 400000)
                    except OSError:
                        pass
                    c.close()
                threading.Thread(target=serve, daemon=True).start()
                c = socket.create_connection(("127.0.0.1", 7000)); c.settimeout(10)
                t = time.monotonic(); n = 0
                try:
                    while True:
                        d = c.recv(65536)
                        if not d:
                            break
                        n += len(d)
                    print("eof", n, int(n / (time.monotonic() - t)))
                except ConnectionResetError:
                    print("reset", n)
                """))
        r = self.shipshape("fault", "--bandwidth", "1mbit", "--", sys.executable, tool, "rate")
        self.assertEqual(r.code, 0, r)
        what, n, rate = r.out.split()
        self.assertEqual((what, n), ("eof", "400000"))
        self.assertLess(int(rate), 125000 * 1.5)  # 1 mbit/s = 125,000 B/s (plus the burst)
        r = self.shipshape("fault", "--reset-after", "64K", "--port", "7000", "--",
                           sys.executable, tool, "reset")
        self.assertEqual(r.code, 0, r)
        what, n = r.out.split()
        self.assertEqual(what, "reset", r)
        self.assertLess(int(n), 70000)
        now = int(time.time())
        r = self.shipshape("fault", "--clock-skew", "-86400", "--", "date", "+%s")
        self.assertEqual(r.code, 0, r)
        self.assertAlmostEqual(int(r.out), now - 86400, delta=60)
        self.assertRegex(r.err, r"FIRED .*wall clock -86400 s .*clock_reads_skewed=[1-9]")


# Where a sandbox keeps the record of what it owns outside its namespaces (run as root).
RECORDS = "/run/shipshape/fault"


class FaultCleanupTest(SandboxProcesses, RepoTestCase):
    """`shipshape fault --cleanup` removes what a dead sandbox recorded as its own and nothing
    else: a live sandbox is told by the lock its supervisor holds on its record, never by a
    process name, and a cgroup no record names is left alone whatever it is called. A
    supervisor killed under a running `fault` is an external failure (exit 1, with the
    cause), and that `fault` removes the dead sandbox's leftovers itself."""

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, "needs root for a memory cgroup")
        self.cgroup_root = memory_cgroup_root()
        require(self, self.cgroup_root is not None, "needs the cgroup memory controller")
        os.chmod(self.tmp, 0o755)

    def record_of(self, supervisor):
        found = glob.glob(f"{RECORDS}/sandbox-{supervisor}-*")
        return found[0] if found else None

    def removed(self, result):
        return [line[len("removed "):] for line in result.out.splitlines()
                if line.startswith("removed ")]

    def test_cleanup_leaves_live_sandboxes_of_renamed_binaries(self):
        # A versioned install: the pair copied as shipshape-0.1.0 + shipshape-fault, and the
        # fault binary itself under another name (its supervisor's comm is then neither
        # "shipshape" nor "shipshape-fault").
        build = os.path.dirname(os.path.realpath(BIN))
        pair = os.path.join(self.tmp, "pair")
        alone = os.path.join(self.tmp, "alone")
        for d in (pair, alone):
            os.mkdir(d)
        shutil.copy2(BIN, os.path.join(pair, "shipshape-0.1.0"))
        shutil.copy2(os.path.join(build, "shipshape-fault"), os.path.join(pair, "shipshape-fault"))
        shutil.copy2(os.path.join(build, "shipshape-fault"), os.path.join(alone, "shipshape-0.1.0"))
        go = os.path.join(self.tmp, "go")
        # Each command waits for `go`, then says it still works: it must live through --cleanup.
        script = f"while [ ! -e {go} ]; do sleep 0.05; done; echo still-working"
        sandboxes = []
        for d in (pair, alone):
            proc, marker = self.start_sandboxed_sleeper(
                "--memory", "64M", binary=os.path.join(d, "shipshape-0.1.0"), script=script)
            [supervisor] = self.children_of(proc.pid)
            cgroup = self.cgroup_of(supervisor)
            self.assertIsNotNone(cgroup)
            sandboxes.append((proc, marker, supervisor, cgroup))
        r = self.shipshape("fault", "--cleanup")
        self.assertEqual(r.code, 0, r)
        for proc, marker, supervisor, cgroup in sandboxes:
            self.assertNotIn(cgroup, self.removed(r), r)
            self.assertTrue(os.path.isdir(cgroup), cgroup)
            self.assertTrue(pid_alive(supervisor), r)
            self.assertTrue(self.pids_with(marker), f"the command of {supervisor} was killed")
        with open(go, "w"):
            pass
        for proc, marker, supervisor, cgroup in sandboxes:
            out, err = proc.communicate(timeout=120)
            self.assertEqual((proc.returncode, out), (0, "still-working\n"), err)
            # It ended normally: its own teardown removed its cgroup and its record.
            self.assertFalse(os.path.exists(cgroup))
            self.assertIsNone(self.record_of(supervisor))

    def test_cleanup_leaves_cgroups_no_record_names(self):
        # Hand-made, named like ours: one with a live process, one named for a pid that no
        # longer runs (what the old name-based cleanup took for a leftover).
        notmine = f"{self.cgroup_root}/shipshape-fault-notmine-{os.getpid()}"
        gone = subprocess.Popen(["true"])
        gone.wait()
        stale_looking = f"{self.cgroup_root}/shipshape-fault-{gone.pid}"
        sleeper = subprocess.Popen(["sleep", "600"])

        def teardown():
            sleeper.kill()
            sleeper.wait()
            for path in (notmine, stale_looking):
                for _ in range(100):
                    try:
                        os.rmdir(path)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.05)  # the killed sleeper is leaving the cgroup
        self.addCleanup(teardown)
        os.mkdir(notmine)
        if not os.path.exists(stale_looking):
            os.mkdir(stale_looking)
        with open(f"{notmine}/cgroup.procs", "w") as f:
            f.write(str(sleeper.pid))
        r = self.shipshape("fault", "--cleanup")
        self.assertEqual(r.code, 0, r)
        self.assertIsNone(sleeper.poll(), f"the process in {notmine} was killed\n{r}")
        for path in (notmine, stale_looking):
            self.assertNotIn(path, self.removed(r), r)
            self.assertTrue(os.path.isdir(path), path)
            self.assertIn(f"left alone {path}: not ours", r.err, r)
        self.assertIn(str(sleeper.pid), proc_text(f"{notmine}/cgroup.procs"))

    def test_cleanup_removes_a_dead_sandbox(self):
        proc, marker = self.start_sandboxed_sleeper("--memory", "64M", "--loss", "10")
        [supervisor] = self.children_of(proc.pid)
        cgroup = self.cgroup_of(supervisor)
        record = self.record_of(supervisor)
        self.assertIsNotNone(cgroup)
        self.assertIsNotNone(record)
        # The supervisor and the `fault` that started it die together: nobody tears down.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.wait_for(lambda: not pid_alive(supervisor), what="the supervisor to die")
        self.wait_for(lambda: not self.pids_with(marker), timeout=120, what="the command to die")
        self.assertTrue(os.path.isdir(cgroup))
        self.assertTrue(os.path.exists(record))
        r = self.shipshape("fault", "--cleanup")
        self.assertEqual(r.code, 0, r)
        self.assertIn(cgroup, self.removed(r), r)
        self.assertFalse(os.path.exists(cgroup))
        self.assertFalse(os.path.exists(record))
        # Done once: a second cleanup finds nothing of it.
        r = self.shipshape("fault", "--cleanup")
        self.assertEqual(r.code, 0, r)
        self.assertNotIn(cgroup, r.out + r.err)

    def test_supervisor_killed_is_an_external_failure(self):
        proc, marker = self.start_sandboxed_sleeper("--memory", "64M", "--loss", "10",
                                                    script="sleep 600")
        [supervisor] = self.children_of(proc.pid)
        cgroup = self.cgroup_of(supervisor)
        self.assertIsNotNone(cgroup)
        os.kill(supervisor, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn(f"the fault supervisor (pid {supervisor}) was killed by SIGKILL", err)
        self.assertNotIn("internal error", err)
        # That `fault` removed what the dead sandbox left: nothing for --cleanup to do.
        self.assertIn(f"removed {cgroup}", err)
        self.assertFalse(os.path.exists(cgroup))
        self.assertIsNone(self.record_of(supervisor))
        self.assertEqual(self.pids_with(marker), [])

    def test_kill_9_leaves_nothing_after_cleanup(self):
        require(self, os.geteuid() == 0, "needs root for a memory cgroup")
        disk = os.path.join(self.tmp, "disk")
        os.mkdir(disk)
        proc, marker = self.start_sandboxed_sleeper("--memory", "64M", "--disk-full",
                                                    disk + ":1M", "--loss", "10")
        [supervisor] = self.children_of(proc.pid)
        # While it runs, the sandbox has its tmpfs on the directory and its memory cgroup.
        self.assertIn(supervisor, self.pids_seeing_mount(disk))
        cgroup = self.cgroup_of(supervisor)
        self.assertIsNotNone(cgroup)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # The supervisor and the command die with it: the pid namespace is torn down, and with
        # its last process the mount namespace holding the tmpfs.
        self.wait_for(lambda: not self.pids_with(marker), timeout=120, what="the command to die")
        self.wait_for(lambda: not self.pids_seeing_mount(disk), timeout=120,
                      what="the sandbox's mount to go")
        # The cgroup outlives a kill -9 (nobody was left to remove it): --cleanup does.
        self.assertTrue(os.path.isdir(cgroup))
        r = self.shipshape("fault", "--cleanup")
        self.assertEqual(r.code, 0, r)
        self.assertIn(f"removed {cgroup}", r.out.splitlines())
        self.assertFalse(os.path.exists(cgroup))



if __name__ == "__main__":
    unittest.main()
