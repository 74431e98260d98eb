"""scripts/team-postgres.sh, black-box: start a private PostgreSQL in a directory (as root the
server runs as `postgres` or `nobody`), print the URL, start again (idempotent, same URL),
`shipshape store migrate` and `shipshape runs` through that URL, stop, stop again; bad
arguments are refused with a reason."""
import os
import socket
import subprocess

from harness import RepoTestCase, require
from pgserver import bindir

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "team-postgres.sh")


class TeamPostgresTest(RepoTestCase):
    def setUp(self):
        super().setUp()
        require(self, bindir() is not None, "a PostgreSQL server (Debian package postgresql)")
        # The server's user (not root) must reach the directory.
        os.chmod(self.tmp, 0o755)
        self.dir = os.path.join(self.tmp, "pg")

    def tearDown(self):
        if os.path.isdir(self.dir):
            self.script("stop", self.dir)
        super().tearDown()

    def script(self, *args):
        r = subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, timeout=120,
                           cwd=self.tmp, stdin=subprocess.DEVNULL)
        return r

    def test_start_url_migrate_stop(self):
        r = self.script("start", self.dir)
        self.assertEqual(r.returncode, 0, r)
        url = r.stdout.strip()
        self.assertTrue(url.startswith("postgresql://shipshape@%2F"), url)
        self.assertTrue(url.endswith("/shipshape"), url)
        again = self.script("start", self.dir)
        self.assertEqual((again.returncode, again.stdout.strip()), (0, url))
        self.assertEqual(self.script("url", self.dir).stdout.strip(), url)

        self.env["SHIPSHAPE_STORE"] = url
        r = self.shipshape("store", "migrate")
        self.assertEqual(r.code, 0, r)
        self.assertIn("(migrated from 0)", r.out)
        r = self.shipshape("runs")
        self.assertEqual(r.code, 0, r)

        r = self.script("stop", self.dir)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("stopped the server", r.stderr)
        r = self.script("stop", self.dir)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("is not running", r.stderr)
        r = self.shipshape("runs")
        self.assertEqual(r.code, 1, r)
        self.assertIn("connecting to the store 'postgresql://shipshape@", r.err)
        # Started again, the data is still there: no migration needed.
        r = self.script("start", self.dir)
        self.assertEqual(r.returncode, 0, r)
        r = self.shipshape("store", "migrate")
        self.assertIn("up to date", r.out)

    def test_tcp_port_needs_the_password_in_the_url(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = self.script("start", self.dir, "--port", str(port))
        self.assertEqual(r.returncode, 0, r)
        url = r.stdout.strip()
        self.assertRegex(url,
                         r"^postgresql://shipshape:[A-Za-z0-9_-]+@127\.0\.0\.1:%d/shipshape$" % port)
        self.env["SHIPSHAPE_STORE"] = url
        self.assertEqual(self.shipshape("store", "migrate").code, 0)
        wrong = f"postgresql://shipshape:wrong@127.0.0.1:{port}/shipshape"
        self.env["SHIPSHAPE_STORE"] = wrong
        r = self.shipshape("runs")
        self.assertEqual(r.code, 1, r)
        self.assertIn("password authentication failed", r.err)
        self.assertNotIn("wrong", r.err.replace("password authentication failed", ""))

    def test_bad_arguments(self):
        for args, code, reason in [(["launch"], 2, "start [DIR]"),
                                   (["start", self.dir, "--port", "http"], 1,
                                    "--port must be a TCP port"),
                                   (["url", self.dir], 1, "no server in")]:
            r = self.script(*args)
            self.assertEqual(r.returncode, code, r)
            self.assertIn(reason, r.stderr)
