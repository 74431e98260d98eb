"""The harness's own helpers where a race can hit them: a process that exits between the
listing of /proc and the read of its files is absent, not an error."""
import unittest
from unittest import mock

import harness


def vanished(*args, **kwargs):
    # What open() of /proc/PID/cmdline raises when PID exits after the listing: ESRCH.
    raise ProcessLookupError(3, "No such process")


class ProcRaceTest(unittest.TestCase):
    def test_read_text_of_a_vanished_process_is_empty(self):
        with mock.patch("builtins.open", vanished):
            self.assertEqual(harness.read_text("/proc/4242/cmdline"), "")

    def test_a_vanished_process_is_not_alive(self):
        with mock.patch("builtins.open", vanished):
            self.assertFalse(harness.pid_alive(4242))

    def test_a_missing_file_is_empty_and_a_live_process_alive(self):
        self.assertEqual(harness.read_text("/nonexistent/shipshape-e2e"), "")
        import os
        self.assertTrue(harness.pid_alive(os.getpid()))
        self.assertIn("python", harness.read_text(f"/proc/{os.getpid()}/cmdline"))


if __name__ == "__main__":
    unittest.main()
