"""Host facts, inventory selection and operating requirements against this real machine."""
import os
import socket
import subprocess
import unittest

from harness import RepoTestCase


# Other tests install and purge throw-away packages named so (test_state, test_package_*) while
# these run: left out of both sides of the comparisons with dpkg-query.
THROWAWAY = "shipshape-"


def installed_packages():
    out = subprocess.run(["dpkg-query", "-W", "-f=${binary:Package} ${Version} ${db:Status-Status}\n"],
                         capture_output=True, text=True, check=True).stdout
    pkgs = {}
    for line in out.splitlines():
        name, version, status = line.split(" ")
        if status == "installed" and not name.startswith(THROWAWAY):
            pkgs[name.split(":")[0]] = version
    return pkgs


class FactsTest(RepoTestCase):
    def setUp(self):
        super().setUp()
        # ProxyCommand=false: ssh never sends a packet to these documentation addresses;
        # the hosts answer as unreachable.
        self.write("inventory.toml", """
            [ssh]
            options = ["ProxyCommand=false"]
            [env.local]
            hosts = ["localhost"]
            [env.prod]
            hosts = ["web1", "web2"]
            [group.web]
            hosts = ["web1", "web2"]
            [host.localhost]
            address = "127.0.0.1"
            [host.web1]
            address = "192.0.2.10"
            tags = { rack = "a3" }
            """)

    def facts(self, *args):
        r = self.shipshape("--json", "facts", *args)
        self.assertEqual(r.code, 0, r)
        doc = r.json()
        self.assertEqual(doc["kind"], "facts")
        return doc["hosts"][0]

    def test_facts_match_ground_truth(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        try:
            f = self.facts()
        finally:
            listener.close()
        self.assertEqual(f["host"], "localhost")
        self.assertEqual(f["cpu"]["threads"], os.cpu_count())
        with open("/proc/sys/kernel/osrelease") as k:
            self.assertEqual(f["os"]["kernel"], k.read().strip())
        # The point release, as Facter's os.release.full and Ansible report it.
        if os.path.exists("/etc/debian_version"):
            with open("/etc/debian_version") as d:
                first = d.readline().strip()
            self.assertEqual(f["os"]["release"], first if first[:1].isdigit()
                             else f["os"]["version_id"])
        pkgs = {p["name"]: p["version"] for p in f["packages"]
                if p["status"] == "installed" and not p["name"].startswith(THROWAWAY)}
        self.assertEqual(pkgs, installed_packages())
        mine = [s for s in f["network"]["listening"] if s["port"] == port]
        self.assertEqual(len(mine), 1, f["network"]["listening"])
        self.assertEqual(mine[0]["protocol"], "tcp")
        # The socket belongs to this test process, which the shipshape child can see.
        self.assertEqual(mine[0]["pid"], os.getpid())
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        self.assertLess(abs(f["memory"]["total"] - pages), pages * 0.01)
        self.assertIn("PATH", f["env_names"])
        self.assertNotIn(os.environ["PATH"], str(f["env_names"]))
        self.assertIn("/", [m["path"] for m in f["mounts"]])

    def test_network_and_disks_match_ip_ss_and_df(self):
        import json as js
        f = self.facts()
        ip = js.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True,
                                     check=True).stdout)
        want = {i["ifname"]: sorted(f"{a['local']}/{a['prefixlen']}" for a in i.get("addr_info", []))
                for i in ip}
        got = {i["name"]: sorted(i["addresses"]) for i in f["network"]["interfaces"]}
        self.assertEqual(got, want)
        # Listening TCP ports, as ss sees them (ports only: ss prints addresses its own way).
        ss = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
        want_ports = sorted({int(line.split()[3].rsplit(":", 1)[1]) for line in ss.splitlines()
                             if line.strip()})
        got_ports = sorted({s["port"] for s in f["network"]["listening"]
                            if s["protocol"].startswith("tcp")})
        self.assertEqual(got_ports, want_ports)
        df = subprocess.run(["df", "-P", "-B1", "/"], capture_output=True, text=True,
                            check=True).stdout.splitlines()[1].split()
        root = [m for m in f["mounts"] if m["path"] == "/"][0]
        self.assertEqual(root["size"], int(df[1]))
        self.assertLess(abs(root["free"] - int(df[3])), 64 * 1024 * 1024)  # the disk is in use

    def test_only_sections_and_human_view(self):
        f = self.facts("--only", "os,cpu")
        self.assertIn("os", f)
        self.assertNotIn("packages", f)
        r = self.shipshape("facts", "--only", "nope")
        self.assertEqual(r.code, 2, r)
        self.assertIn("--only 'nope': unknown section", r.err)
        r = self.shipshape("facts")
        self.assertEqual(r.code, 0, r)
        # Each section's label starts a row ("os" alone would match "localhost").
        for label in ["os", "cpu", "memory", "packages", "rlimits"]:
            self.assertRegex(r.out, rf"(?m)^  {label} +\S")

    def test_unreachable_remote_host_is_reported(self):
        r = self.shipshape("facts", "web1")
        self.assertEqual(r.code, 1, r)
        self.assertIn("web1: host web1 (192.0.2.10): unreachable: ", r.err)
        r = self.shipshape("facts", "nothing*")
        self.assertEqual(r.code, 2, r)
        self.assertIn("no host matches 'nothing*'", r.err)

    def test_hosts_and_patterns(self):
        r = self.shipshape("--json", "hosts", "group:web")
        self.assertEqual(r.code, 0, r)
        hosts = r.json()["hosts"]
        self.assertEqual([h["name"] for h in hosts], ["web1", "web2"])
        self.assertEqual(hosts[0]["tags"], {"rack": "a3"})
        self.assertEqual(hosts[0]["env"], "prod")
        r = self.shipshape("hosts", "--env", "local")
        self.assertEqual(r.code, 0, r)
        self.assertIn("localhost", r.out)
        self.assertNotIn("web1", r.out)

    def test_save_list_and_diff(self):
        r = self.shipshape("--json", "facts", "--save")
        self.assertEqual(r.code, 0, r)
        first = r.json()["hosts"][0]["snapshot_id"]
        second = self.shipshape("--json", "facts", "--save").json()["hosts"][0]["snapshot_id"]
        snaps = self.shipshape("--json", "facts", "--list").json()["snapshots"]
        self.assertEqual([s["id"] for s in snaps], [second, first])
        r = self.shipshape("--json", "facts", "diff", f"@{first}", f"@{second}")
        self.assertEqual(r.code, 0, r)
        self.assertTrue(r.json()["identical"])
        # Against a snapshot with a changed package, a new port and another kernel.
        import sqlite3, json as js
        db = sqlite3.connect(os.path.join(self.repo, ".shipshape", "state.db"))
        doc = js.loads(db.execute("SELECT document FROM facts_snapshots WHERE id = ?", (first,)).fetchone()[0])
        doc["os"]["kernel"] = "5.10.0-28-amd64"
        doc["os"]["release"] = "12.4"
        doc["packages"][0]["version"] = "0.0-old"
        doc["network"]["listening"].append({"protocol": "tcp", "address": "0.0.0.0", "port": 5432,
                                            "pid": 1, "process": "postgres"})
        db.execute("INSERT INTO facts_snapshots(host, at, hash, document) VALUES('old', 1, 'x', ?)",
                   (js.dumps(doc),))
        db.commit()
        old = db.execute("SELECT max(id) FROM facts_snapshots").fetchone()[0]
        db.close()
        r = self.shipshape("--json", "facts", "diff", f"@{old}", "localhost")
        self.assertEqual(r.code, 1, r)
        diffs = {(d["section"], d["subject"]): (d["left"], d["right"]) for d in r.json()["differences"]}
        self.assertEqual(diffs[("os", "kernel")][0], "5.10.0-28-amd64")
        self.assertEqual(diffs[("os", "release")][0], "12.4")
        self.assertNotEqual(diffs[("os", "release")][1], "12.4")
        pkg = doc["packages"][0]["name"]
        self.assertEqual(diffs[("packages", pkg)][0], "0.0-old")
        self.assertEqual(diffs[("ports", "5432/tcp")], ("postgres", ""))
        r = self.shipshape("facts", "diff", "@999", "localhost")
        self.assertEqual(r.code, 2, r)
        self.assertIn("no saved facts snapshot @999", r.err)


class RequireTest(RepoTestCase):
    def test_requirements_pass_and_fail_on_purpose(self):
        pkgs = installed_packages()
        name, version = "dpkg", pkgs["dpkg"]
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        self.write("requirements.toml", f"""
            [resources]
            memory = "1M"
            cpus = 1
            [[disk]]
            path = "/"
            free = "1K"
            [[disk]]
            path = "/shipshape-no-such-dir"
            free = "1K"
            [[port]]
            number = {port}
            [[package]]
            name = "{name}"
            version = ">= {version}"
            [[package]]
            name = "{name}"
            version = ">> {version}"
            [[package]]
            name = "shipshape-no-such-package"
            absent = true
            [kernel]
            version = ">= 2.6"
            [limits]
            nofile = 1
            [env]
            required = ["PATH", "SHIPSHAPE_NOT_SET_ANYWHERE"]
            """)
        try:
            r = self.shipshape("--json", "require", "check")
        finally:
            listener.close()
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertFalse(doc["ok"])
        verdicts = [(row["kind"], row["subject"], row["verdict"]) for row in doc["rows"]]
        self.assertEqual(verdicts, [
            ("memory", "available", "ok"),
            ("cpus", "online", "ok"),
            ("disk", "/", "ok"),
            ("disk", "/shipshape-no-such-dir", "unknown"),
            ("port", f"{port}/tcp", "fail"),
            ("package", name, "ok"),
            ("package", name, "fail"),
            ("package", "shipshape-no-such-package", "ok"),
            ("kernel", "release", "ok"),
            ("limit", "nofile", "ok"),
            ("env", "PATH", "ok"),
            ("env", "SHIPSHAPE_NOT_SET_ANYWHERE", "fail"),
        ])
        self.assertEqual(doc["rows"][5]["found"], version)
        # Once the port is free and the impossible needs are gone, everything passes: exit 0.
        text = self.read("requirements.toml")
        text = text.replace(f'version = ">> {version}"', f'version = "= {version}"')
        text = text.replace('"SHIPSHAPE_NOT_SET_ANYWHERE"', '"HOME"')
        text = text.replace('path = "/shipshape-no-such-dir"', 'path = "/tmp"')
        self.write("requirements.toml", text)
        r = self.shipshape("require", "check")
        self.assertEqual(r.code, 0, r)
        self.assertIn("0 not met", r.out)

    def test_bad_requirements_get_positions_and_explain_renders(self):
        self.write("requirements.toml", '[resources]\nmemory = "lots"\n[[package]]\nname = "x"\nversion = "=> 1"\n')
        r = self.shipshape("require", "check")
        self.assertEqual(r.code, 2, r)
        self.assertIn("requirements.toml:2:10: resources 'memory': invalid size 'lots'", r.err)
        self.assertIn("requirements.toml:5:11: package 'x': invalid version constraint '=> 1'", r.err)
        self.write("requirements.toml", '[[package]]\nname = "libssl3"\nversion = ">= 3.0.9"\n')
        r = self.shipshape("require", "explain")
        self.assertEqual(r.code, 0, r)
        self.assertIn("| `libssl3` | >= 3.0.9 |", r.out)
        os.remove(os.path.join(self.repo, "requirements.toml"))
        r = self.shipshape("require", "check")
        self.assertEqual(r.code, 2, r)
        self.assertIn("no requirements file", r.err)


if __name__ == "__main__":
    unittest.main()
