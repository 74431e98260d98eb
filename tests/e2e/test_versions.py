"""shipshape versions, end to end through the real binary and store:

- saved facts: web10's are gathered for real (`facts --save`, this machine's dpkg database);
  the others are this machine's real facts with package versions edited, saved with
  `facts import` as another tool (or an unreachable host's own `facts --json`) would;
- --live: loopback hosts gathered in-process, and two test-fleet hosts gathered by their agents
  over ssh (they share this machine's dpkg database, so they agree);
- exit codes: 0 agree, 1 a host lags, misses the package or is unknown, 2 bad input."""
import copy
import json
import os
import pty
import re
import select
import subprocess
import textwrap
import unittest

from harness import BIN, FleetTestCase, RepoTestCase, Result


def installed_version(name):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                       text=True)
    return r.stdout if r.returncode == 0 else None


class VersionsTestCase(RepoTestCase):
    def setUp(self):
        super().setUp()
        self.write("shipshape.toml", 'name = "test"\n[roles]\nweb = ["states/web.toml"]\n')
        self.write("inventory.toml", textwrap.dedent("""\
            [env.prod]
            hosts = ["web10", "web2", "web1"]
            [env.staging]
            hosts = ["stage1"]
            [host.web1]
            address = "127.0.0.11"
            [host.web2]
            address = "127.0.0.12"
            [host.web10]
            address = "127.0.0.20"
            [host.stage1]
            address = "127.0.0.30"
            [host.db1]
            address = "127.0.0.40"
            [group.web]
            hosts = ["web1", "web2", "web10", "stage1"]
            roles = ["web"]
            """))
        # A deb resource names its package through the file name; a named one directly.
        self.write("states/web.toml", textwrap.dedent("""\
            [[package]]
            deb = "artifacts/booking_1.4.3_amd64.deb"
            [[package]]
            name = "dpkg"
            """))
        self.dpkg = installed_version("dpkg")
        self.assertTrue(self.dpkg, "dpkg-query -W dpkg")

    def save_facts(self, host, edit):
        """This machine's real packages, edited by `edit` (name -> version, None removes),
        saved as `host`'s facts."""
        r = self.shipshape("--json", "facts", "--only", "packages", "localhost")
        self.assertEqual(r.code, 0, r)
        doc = copy.deepcopy(r.json())
        doc = doc["hosts"][0] if "hosts" in doc else doc
        packages = [p for p in doc["packages"] if edit.get(p["name"], p["version"]) is not None]
        for p in packages:
            p["version"] = edit.get(p["name"], p["version"])
        for name, version in edit.items():
            if version and not any(p["name"] == name for p in packages):
                packages.append({"name": name, "version": version, "architecture": "amd64",
                                 "status": "installed"})
        doc["packages"] = packages
        path = os.path.join(self.tmp, f"{host}.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        r = self.shipshape("facts", "import", host, path)
        self.assertEqual(r.code, 0, r)


class SavedVersionsTest(VersionsTestCase):
    def setUp(self):
        super().setUp()
        self.save_facts("web1", {"booking": "1.4.3"})
        self.save_facts("web2", {"booking": "1.4.2", "dpkg": "1.20.0"})
        # stage1: an epoch outranks every upstream version; ~rc sorts before the release.
        self.save_facts("stage1", {"booking": "1:1.5~rc1"})
        # web10: real facts, gathered and saved; booking is not installed here.
        r = self.shipshape("facts", "--only", "packages", "--save", "web10")
        self.assertEqual(r.code, 0, r)
        # db1 has no saved facts.

    def rows(self, out, package):
        """{host: (marker, env, version, status)} of one package's table."""
        lines = out.split(package + "\n", 1)[1].split("\n\n")[0].splitlines()
        rows = {}
        for line in lines[1:]:
            if line.startswith(package + ":"):
                break
            marker, cells = line[0], re.split(r"\s{2,}", line[2:].strip())
            rows[cells[1]] = (marker, cells[0], cells[2], cells[4])
        return rows

    def test_declared_packages_on_every_host(self):
        r = self.shipshape("versions")
        self.assertEqual(r.code, 1, r)
        booking = self.rows(r.out, "booking")
        self.assertEqual(list(booking), ["web1", "web2", "web10", "stage1", "db1"],
                         r.out)  # environments in name order, natural host order, no env last
        self.assertEqual(booking["web1"][0:3], (" ", "prod", "1.4.3"))
        self.assertEqual(booking["web1"][3], "newest")
        self.assertEqual(booking["web2"][0:3], ("<", "prod", "1.4.2"))
        self.assertIn("lags (newest 1.4.3)", r.out)
        self.assertEqual(booking["web10"][0:3], ("<", "prod", "-"))
        self.assertIn("not installed (newest 1.4.3)", r.out)
        self.assertEqual(booking["stage1"][2:], ("1:1.5~rc1", "newest"))
        self.assertEqual(booking["db1"][2], "?")
        self.assertIn("booking: 1 host lags (web2), 1 host misses it (web10), unknown on 1 host "
                      "(db1)", r.out)
        dpkg = self.rows(r.out, "dpkg")
        self.assertEqual(dpkg["web1"][2:], (self.dpkg, "newest"))
        self.assertEqual(dpkg["web10"][2:], (self.dpkg, "newest"))
        self.assertEqual(dpkg["web2"][0:3], ("<", "prod", "1.20.0"))
        self.assertIn("versions unknown on 1 host (db1)", r.err)
        self.assertNotIn("\033[", r.out)  # no colours off a terminal

    def test_colours_on_a_terminal_only(self):
        master, slave = pty.openpty()
        env = dict(self.env)
        env.pop("NO_COLOR", None)
        env["TERM"] = "xterm"
        proc = subprocess.run([BIN, "versions", "booking", "env:prod"], cwd=self.repo,
                              stdin=slave, stdout=slave, stderr=slave, env=env, timeout=60)
        os.close(slave)
        out = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        os.close(master)
        text = out.decode()
        self.assertEqual(proc.returncode, 1, text)
        self.assertIn("\033[1;32m1.4.3", text)  # the newest, green
        self.assertIn("\033[1;31m1.4.2", text)  # the lagging host's version, red

    def test_json_for_scripts(self):
        r = self.shipshape("--json", "versions", "booking", "env:prod", "stage1")
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertFalse(doc["agree"])
        [booking] = doc["packages"]
        self.assertEqual(booking["name"], "booking")
        self.assertEqual(booking["lagging"], ["web2"])
        self.assertEqual(booking["missing"], ["web10"])
        envs = {e["env"]: e for e in booking["envs"]}
        self.assertEqual(envs["prod"]["newest"], "1.4.3")
        self.assertEqual(envs["staging"]["newest"], "1:1.5~rc1")
        hosts = {h["host"]: h for h in envs["prod"]["hosts"]}
        self.assertEqual([h["host"] for h in envs["prod"]["hosts"]], ["web1", "web2", "web10"])
        self.assertEqual((hosts["web2"]["version"], hosts["web2"]["lagging"]), ("1.4.2", True))
        self.assertEqual((hosts["web1"]["newest"], hosts["web1"]["lagging"]), (True, False))
        self.assertEqual((hosts["web10"]["installed"], hosts["web10"]["missing"]), (False, True))
        self.assertEqual(hosts["web10"]["source"], "saved")
        self.assertGreater(hosts["web10"]["snapshot"], 0)

    def test_exit_0_when_the_hosts_agree_and_globs(self):
        r = self.shipshape("versions", "dpkg", "web1", "web10", "stage1")
        self.assertEqual(r.code, 0, r)
        self.assertIn("dpkg: every environment's hosts agree", r.out)
        r = self.shipshape("--json", "versions", "", "web1")  # '': the declared packages
        self.assertEqual(r.code, 0, r)
        self.assertEqual([p["name"] for p in r.json()["packages"]], ["booking", "dpkg"])
        r = self.shipshape("--json", "versions", "dpk?", "web1", "web2")
        self.assertEqual(r.code, 1, r)
        self.assertEqual([p["name"] for p in r.json()["packages"]], ["dpkg"])
        self.assertEqual(r.json()["packages"][0]["lagging"], ["web2"])

    def test_bad_input_exits_2(self):
        r = self.shipshape("versions", "ngnix", "web1")
        self.assertEqual(r.code, 2, r)
        self.assertIn("package 'ngnix' is not installed on any of the 1 hosts", r.err)
        r = self.shipshape("versions", "dpkg", "nosuchhost")
        self.assertEqual(r.code, 2, r)
        self.write("states/web.toml", '[[file]]\npath = "/tmp/x"\ncontent = ""\n')
        r = self.shipshape("versions")
        self.assertEqual(r.code, 2, r)
        self.assertIn("declare no [[package]]", r.err)


class LiveVersionsTest(VersionsTestCase):
    def test_live_gathers_instead_of_reading_saved_facts(self):
        self.save_facts("web2", {"dpkg": "1.20.0"})  # saved, but not read with --live
        r = self.shipshape("--json", "versions", "dpkg", "web1", "web2", "--live")
        self.assertEqual(r.code, 0, r)
        [env] = r.json()["packages"][0]["envs"]
        self.assertEqual([(h["version"], h["source"], h["newest"]) for h in env["hosts"]],
                         [(self.dpkg, "live", True)] * 2)
        r = self.shipshape("versions", "dpkg", "web1", "web2")
        self.assertEqual(r.code, 1, r)  # the saved facts say web2 lags


class LiveOnFleetHostsTest(FleetTestCase):
    """--live on remote hosts: each host's agent gathers its packages over ssh."""

    def test_the_agents_gather_the_packages(self):
        self.write("inventory.toml", self.fleet.inventory_toml(env="prod"))
        r = Result(subprocess.run(
            self.fleet.cmd([BIN, "--json", "versions", "dpkg", "env:prod", "--live"]),
            cwd=self.repo, capture_output=True, text=True, timeout=300, env=self.env,
            stdin=subprocess.DEVNULL))
        self.assertEqual(r.code, 0, r)
        [env] = r.json()["packages"][0]["envs"]
        self.assertEqual(env["env"], "prod")
        self.assertEqual([h["host"] for h in env["hosts"]], [h["name"] for h in self.fleet.hosts])
        self.assertEqual({(h["version"], h["source"]) for h in env["hosts"]},
                         {(installed_version("dpkg"), "live")})


if __name__ == "__main__":
    unittest.main()
