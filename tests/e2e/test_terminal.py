"""The live view on a real pseudo-terminal: steps redraw in place with elapsed time and the
last output line, finished steps scroll above, and the summary follows."""
import os
import pty
import select
import subprocess
import time
import unittest

from harness import BIN, RepoTestCase


class TerminalTest(RepoTestCase):
    def run_on_pty(self, *args, timeout=30):
        master, slave = pty.openpty()
        env = dict(self.env)
        env.pop("NO_COLOR", None)
        env["TERM"] = "xterm"
        proc = subprocess.Popen([BIN, *args], cwd=self.repo, stdin=slave, stdout=slave,
                                stderr=slave, env=env, close_fds=True)
        os.close(slave)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        proc.wait(timeout=5)
        os.close(master)
        return proc.returncode, b"".join(chunks).decode(errors="replace")

    def test_live_view_shows_running_steps_and_a_summary(self):
        self.write("checklists/live.toml", """
            [[step]]
            id = "slow"
            sh = "echo first line; sleep 0.5; echo tick-tock; sleep 0.5"
            [[step]]
            id = "fast"
            run = ["true"]
            needs = ["slow"]
            """)
        code, text = self.run_on_pty("run", "checklists/live.toml")
        self.assertEqual(code, 0, text)
        # A redraw line of the running step, with its last output line.
        self.assertIn("slow", text)
        self.assertIn("tick-tock", text)
        self.assertIn("\x1b[1A\x1b[2K", text)  # cursor up + clear: the block is redrawn in place
        self.assertIn("\x1b[32mok", text)  # finished steps in colour
        self.assertIn("done", text)
        self.assertIn("steps: 2 ok", text)


if __name__ == "__main__":
    unittest.main()
