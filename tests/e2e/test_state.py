"""Desired state end to end: plan, apply, drift and environment comparison through the real
binary, against scratch roots (--root) and, where the test says so, the real machine's apt."""
import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

from harness import RepoTestCase, require

WEB_STATE = """\
[[directory]]
path = "/etc/booking"
mode = "0750"

[[file]]
path = "/etc/booking/app.conf"
source = "files/app.conf"
template = true
mode = "0640"

[[file]]
path = "/etc/booking/limits.conf"
content = "max = 10\\n"

[[symlink]]
path = "/opt/booking/current"
target = "/opt/booking/releases/{{version}}"

[[line]]
path = "/etc/hosts"
line = "10.0.0.9 db.internal"

[[absent]]
path = "/etc/booking/old.conf"
"""


class StateTestCase(RepoTestCase):
    def setUp(self):
        super().setUp()
        self.write("shipshape.toml", textwrap.dedent("""\
            name = "test"
            [roles]
            web = ["states/web.toml"]
            """))
        # ProxyCommand=false: ssh never sends a packet to stage1; it answers as unreachable.
        self.write("inventory.toml", textwrap.dedent("""\
            [ssh]
            options = ["ProxyCommand=false"]
            [env.local]
            hosts = ["localhost"]
            [env.staging]
            hosts = ["stage1"]
            [host.stage1]
            address = "10.0.0.1"
            [group.web]
            hosts = ["localhost", "stage1"]
            roles = ["web"]
            """))
        self.write("states/web.toml", WEB_STATE)
        self.write("files/app.conf", "host = {{host}}\nversion = {{version}}\n")
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(self.root, "etc/booking"))
        with open(os.path.join(self.root, "etc/hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
        with open(os.path.join(self.root, "etc/booking/old.conf"), "w") as f:
            f.write("old\n")

    def state(self, command, *args):
        return self.shipshape(command, *args, "--root", self.root, "--set", "version=1.4.2")

    def path(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def snapshot(self):
        """(path -> (mtime_ns, ctime_ns, ino)) for everything under the root."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                out[p] = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        return out


class PlanApplyTest(StateTestCase):
    def test_plan_shows_a_diff_and_changes_nothing(self):
        before = self.snapshot()
        r = self.state("plan")
        self.assertEqual(r.code, 0, r)
        self.assertIn("localhost  roles: web  states: states/web.toml", r.out)
        self.assertIn("+ file /etc/booking/app.conf", r.out)
        self.assertIn("+version = 1.4.2", r.out)
        self.assertIn("~ line /etc/hosts  (add line \"10.0.0.9 db.internal\")", r.out)
        self.assertIn("- file /etc/booking/old.conf", r.out)
        self.assertIn("Plan: 3 to create, 2 to change, 1 to remove.", r.out)
        self.assertEqual(self.snapshot(), before)

        doc = self.state("plan", "--json")
        self.assertEqual(doc.code, 0, doc)
        host = doc.json()["hosts"][0]
        self.assertEqual(host["summary"], {"create": 3, "change": 2, "remove": 1, "run": 0,
                                           "errors": 0})
        app = [c for c in host["changes"] if c["path"] == "/etc/booking/app.conf"][0]
        self.assertEqual(app["action"], "create")
        self.assertEqual(app["declared_at"], "states/web.toml:5")
        self.assertIn("+host = localhost", app["diff"])

    def test_apply_converges_and_a_second_apply_writes_nothing(self):
        r = self.state("apply")
        self.assertEqual(r.code, 0, r)
        self.assertIn("Applied 6 of 6 changes", r.out)
        with open(self.path("/etc/booking/app.conf")) as f:
            self.assertEqual(f.read(), "host = localhost\nversion = 1.4.2\n")
        self.assertEqual(os.stat(self.path("/etc/booking/app.conf")).st_mode & 0o7777, 0o640)
        self.assertEqual(os.readlink(self.path("/opt/booking/current")),
                         "/opt/booking/releases/1.4.2")
        self.assertFalse(os.path.exists(self.path("/etc/booking/old.conf")))

        before = self.snapshot()
        again = self.state("apply", "--json")
        self.assertEqual(again.code, 0, again)
        host = again.json()["hosts"][0]
        self.assertEqual(host["changes"], [])
        self.assertEqual(self.snapshot(), before, "a no-change apply must not touch any file")
        self.assertIn("no changes", self.state("apply").out)

    def test_bad_state_file_is_reported_with_positions_and_changes_nothing(self):
        self.write("states/web.toml", WEB_STATE + textwrap.dedent("""\
            [[file]]
            path = "relative/path"
            content = "x"
            [[file]]
            path = "/etc/booking/limits.conf"
            content = "dup"
            [[daemon]]
            name = "nginx"
            """))
        before = self.snapshot()
        r = self.state("apply")
        self.assertEqual(r.code, 2, r)
        self.assertIn("states/web.toml:31:3: unknown key 'daemon' in a state file", r.err)
        self.assertIn("states/web.toml:26:8: [[file]] 'path' must be an absolute path, "
                      "found \"relative/path\"", r.err)
        self.assertIn("states/web.toml:28:1: duplicate file /etc/booking/limits.conf: already "
                      "declared at states/web.toml:11", r.err)
        self.assertEqual(self.snapshot(), before)

    def test_missing_template_variable_is_an_error_not_an_empty_string(self):
        r = self.shipshape("plan", "--root", self.root)  # no --set version=...
        self.assertEqual(r.code, 2, r)
        self.assertIn("states/web.toml:7:10: template of file /etc/booking/app.conf: unknown "
                      "variable 'version'", r.err)

    def test_roles_must_exist_and_name_existing_state_files(self):
        self.write("inventory.toml", self.read("inventory.toml").replace('roles = ["web"]',
                                                                         'roles = ["web", "db"]'))
        self.write("shipshape.toml", 'name = "test"\n[roles]\nweb = ["states/gone.toml"]\n')
        r = self.state("plan")
        self.assertEqual(r.code, 2, r)
        self.assertIn("inventory.toml:11:9: group 'web' has role 'db', which [roles] in "
                      "shipshape.toml does not define", r.err)
        self.assertIn("shipshape.toml:3:7: role 'web': state file 'states/gone.toml' does not "
                      "exist", r.err)

    def test_unreachable_remote_host_is_reported(self):
        r = self.state("plan", "stage1")
        self.assertEqual(r.code, 1, r)
        self.assertIn("stage1: host stage1 (10.0.0.1): unreachable: ", r.err)

    def test_failure_in_a_read_only_directory_leaves_the_old_file(self):
        require(self, os.geteuid() == 0 and shutil.which("unshare"),
                "needs root and unshare(1) for a private read-only mount")
        ro = self.path("/etc/booking")
        with open(os.path.join(ro, "limits.conf"), "w") as f:
            f.write("old limits\n")
        script = textwrap.dedent(f"""\
            set -e
            mount --make-rprivate /
            mount -t tmpfs -o size=1m tmpfs {ro}
            echo 'old limits' > {ro}/limits.conf
            mount -o remount,ro {ro}
            set +e
            {os.environ.get('SHIPSHAPE_BIN') or 'shipshape'} -C {self.repo} apply --root {self.root} --set version=1
            echo "exit=$?"
            cat {ro}/limits.conf
            ls -a {ro}
            """)
        from harness import BIN
        script = script.replace(os.environ.get('SHIPSHAPE_BIN') or 'shipshape', BIN)
        r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                           text=True, env=self.env, timeout=60)
        self.assertIn("exit=1", r.stdout, r)
        self.assertIn("old limits", r.stdout)
        self.assertIn("failed: file /etc/booking/limits.conf:", r.stderr)
        self.assertIn("Read-only file system", r.stderr)
        self.assertNotIn(".shipshape-", r.stdout)  # no temporary left behind
        # The rest went on: the symlink outside the read-only mount was made.
        self.assertEqual(os.readlink(self.path("/opt/booking/current")), "/opt/booking/releases/1")

    def test_packages_and_users_under_root(self):
        self.write("states/web.toml", textwrap.dedent("""\
            [[package]]
            name = "shipshape-no-such-package"
            """))
        r = self.state("apply")
        self.assertEqual(r.code, 1, r)
        self.assertIn("packages cannot be managed under --root", r.err)

    def test_users_and_groups_go_through_shadow_tools_under_root(self):
        require(self, os.geteuid() == 0 and shutil.which("useradd"),
                "needs root and useradd (passwd package)")
        etc = self.path("/etc")
        for name, text in {"passwd": "root:x:0:0:root:/root:/bin/bash\n",
                           "group": "root:x:0:\n", "shadow": "root:*:19000:0:99999:7:::\n",
                           "gshadow": "root:*::\n"}.items():
            with open(os.path.join(etc, name), "w") as f:
                f.write(text)
        self.write("states/web.toml", textwrap.dedent("""\
            [[group]]
            name = "booking"
            system = true
            [[user]]
            name = "booking"
            system = true
            group = "booking"
            home = "/var/lib/booking"
            shell = "/usr/sbin/nologin"
            [[file]]
            path = "/var/lib/booking/app.conf"
            content = "x\\n"
            owner = "booking"
            group = "booking"
            """))
        r = self.state("apply")
        self.assertEqual(r.code, 0, r)
        with open(os.path.join(etc, "passwd")) as f:
            line = [l for l in f if l.startswith("booking:")][0].split(":")
        self.assertEqual(line[5], "/var/lib/booking")
        st = os.stat(self.path("/var/lib/booking/app.conf"))
        self.assertEqual(st.st_uid, int(line[2]))
        self.assertEqual(st.st_gid, int(line[3]))
        again = self.state("plan", "--json")
        self.assertEqual(again.json()["hosts"][0]["changes"], [], again)
        # A changed shell is a usermod.
        self.write("states/web.toml", self.read("states/web.toml").replace("/usr/sbin/nologin",
                                                                           "/bin/sh"))
        r = self.state("apply")
        self.assertEqual(r.code, 0, r)
        self.assertIn("shell /usr/sbin/nologin -> /bin/sh", r.out)


class DriftTest(StateTestCase):
    def test_drift_names_hand_edits_chmods_and_deletions(self):
        self.assertEqual(self.state("apply").code, 0)
        r = self.state("drift")
        self.assertEqual(r.code, 0, r)
        with open(self.path("/etc/booking/limits.conf"), "a") as f:
            f.write("hand edit\n")
        os.chmod(self.path("/etc/booking/app.conf"), 0o666)
        os.unlink(self.path("/opt/booking/current"))
        r = self.state("drift", "--json")
        self.assertEqual(r.code, 1, r)
        host = r.json()["hosts"][0]
        self.assertTrue(host["drifted"])
        by_path = {c["path"]: c for c in host["changes"]}
        self.assertEqual(by_path["/etc/booking/limits.conf"]["details"], ["content"])
        self.assertIn("-hand edit", by_path["/etc/booking/limits.conf"]["diff"])
        self.assertEqual(by_path["/etc/booking/app.conf"]["details"], ["mode 0666 -> 0640"])
        self.assertEqual(by_path["/opt/booking/current"]["action"], "create")
        text = self.state("drift")
        self.assertIn("Drift: 1 to create, 2 to change, 0 to remove.", text.out)
        self.assertEqual(self.state("apply").code, 0)
        self.assertEqual(self.state("drift").code, 0)

    def test_strict_reports_unmanaged_files_in_managed_directories(self):
        self.assertEqual(self.state("apply").code, 0)
        with open(self.path("/etc/booking/stray.conf"), "w") as f:
            f.write("?")
        self.assertEqual(self.state("drift").code, 0)
        r = self.state("drift", "--strict")
        self.assertEqual(r.code, 1, r)
        self.assertIn("? unmanaged /etc/booking/stray.conf", r.out)

    def test_environment_comparison_on_prepared_fact_sets(self):
        # The hosts are out of reach (ProxyCommand=false: no packet leaves): compared from the
        # facts imported for them, and the output says so.
        self.write("inventory.toml", textwrap.dedent("""\
            [ssh]
            options = ["ProxyCommand=false"]
            [env.staging]
            hosts = ["s1"]
            [env.prod]
            hosts = ["p1", "p2"]
            [host.s1]
            address = "10.0.0.1"
            [host.p1]
            address = "10.0.0.2"
            [host.p2]
            address = "10.0.0.3"
            [group.web]
            hosts = ["s1", "p1", "p2"]
            roles = ["web"]
            """))
        base = {
            "schema": "shipshape.facts/1", "host": "x", "collected_at": 1,
            "os": {"id": "debian", "name": "Debian GNU/Linux 12 (bookworm)", "version_id": "12",
                   "release": "12.11", "codename": "bookworm", "kernel": "6.1.0-18-amd64",
                   "architecture": "x86_64", "hostname": "x", "boot_time": 0,
                   "virtualization": "kvm"},
            "packages": [
                {"name": "libfoo2", "version": "2.9-1", "architecture": "amd64",
                 "status": "installed"},
                {"name": "nginx", "version": "1.22.1-9", "architecture": "amd64",
                 "status": "installed"},
            ],
        }
        staging = json.loads(json.dumps(base))
        staging["os"]["kernel"] = "6.1.0-13-amd64"
        staging["os"]["release"] = "12.4"  # the point release (/etc/debian_version) differs
        staging["packages"][0]["version"] = "2.8-1"
        for host, doc in (("s1", staging), ("p1", base), ("p2", base)):
            path = os.path.join(self.tmp, host + ".json")
            with open(path, "w") as f:
                json.dump(doc, f)
            r = self.shipshape("facts", "import", host, path)
            self.assertEqual(r.code, 0, r)
        r = self.shipshape("drift", "--env", "staging", "--against", "prod", "--json")
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertEqual(doc["kind"], "env-drift")
        self.assertEqual(doc["differences"], 3)
        role = doc["roles"][0]
        self.assertEqual(role["left_hosts"], ["s1"])
        self.assertEqual(role["right_hosts"], ["p1", "p2"])
        diffs = {d["subject"]: d for d in role["differences"]}
        self.assertEqual(diffs["kernel"]["left"]["value"], "6.1.0-13-amd64")
        self.assertEqual(diffs["kernel"]["right"]["value"], "6.1.0-18-amd64")
        self.assertEqual(diffs["os"]["left"]["value"], "Debian GNU/Linux 12 (bookworm), 12.4")
        self.assertEqual(diffs["os"]["right"]["value"], "Debian GNU/Linux 12 (bookworm), 12.11")
        self.assertEqual(diffs["package libfoo2"]["left"]["value"], "2.8-1")
        self.assertEqual(diffs["package libfoo2"]["right"]["value"], "2.9-1")
        self.assertTrue(any("host s1 (10.0.0.1): unreachable" in n and "stored" in n
                            for n in doc["notes"]), doc["notes"])
        text = self.shipshape("drift", "--env", "staging", "--against", "prod")
        self.assertIn("~ package libfoo2", text.out)
        self.assertRegex(text.out, r"staging +2\.8-1")
        self.assertRegex(text.out, r"prod +2\.9-1")
        self.assertIn("3 differences between staging and prod.", text.out)
        same = self.shipshape("drift", "--env", "prod", "--against", "prod")
        self.assertEqual(same.code, 0, same)

    def test_facts_import_checks_the_document(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump({"kind": "facts", "hosts": []}, f)
        r = self.shipshape("facts", "import", "stage1", bad)
        self.assertEqual(r.code, 2, r)
        self.assertIn("not a shipshape.facts/1 document", r.err)
        # The output of `--json facts` for one host is accepted as it is.
        mine = self.shipshape("--json", "facts", "--only", "os")
        self.assertEqual(mine.code, 0, mine)
        good = os.path.join(self.tmp, "good.json")
        with open(good, "w") as f:
            f.write(mine.out)
        r = self.shipshape("facts", "import", "stage1", good)
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, r"saved facts of stage1 as @\d+")

    def test_env_and_against_go_together(self):
        r = self.shipshape("drift", "--env", "staging")
        self.assertEqual(r.code, 2, r)
        self.assertIn("--env and --against go together", r.err)


class AptTest(StateTestCase):
    """Packages through the real apt-get and dpkg, from a local file repository the test
    builds (no network): install a version, upgrade to another, remove."""

    PKG = "shipshape-test-dummy"
    RESOURCE_LOCK = "dpkg"  # installs into this machine's dpkg database (one apt at a time)

    def build_repo(self):
        repo = os.path.join(self.tmp, "apt")
        os.makedirs(repo)
        for version in ("1.0", "2.0"):
            d = os.path.join(self.tmp, f"pkg-{version}")
            os.makedirs(os.path.join(d, "DEBIAN"))
            os.makedirs(os.path.join(d, f"usr/share/doc/{self.PKG}"))
            with open(os.path.join(d, "DEBIAN/control"), "w") as f:
                f.write(f"Package: {self.PKG}\nVersion: {version}\nArchitecture: all\n"
                        "Maintainer: shipshape tests <tests@localhost>\n"
                        "Description: throw-away package for shipshape's apply tests\n")
            with open(os.path.join(d, f"usr/share/doc/{self.PKG}/VERSION"), "w") as f:
                f.write(version + "\n")
            deb = os.path.join(repo, f"{self.PKG}_{version}_all.deb")
            subprocess.run(["dpkg-deb", "--build", "--root-owner-group", d, deb], check=True,
                           capture_output=True)
        scan = subprocess.run(["apt-ftparchive", "packages", "."], cwd=repo, check=True,
                              capture_output=True, text=True)
        with open(os.path.join(repo, "Packages"), "w") as f:
            f.write(scan.stdout)
        conf = os.path.join(self.tmp, "apt.conf")
        state = os.path.join(self.tmp, "apt-state")
        os.makedirs(os.path.join(state, "lists/partial"))
        os.makedirs(os.path.join(state, "archives/partial"))
        with open(os.path.join(self.tmp, "sources.list"), "w") as f:
            f.write(f"deb [trusted=yes] file:{repo} ./\n")
        with open(conf, "w") as f:
            f.write(textwrap.dedent(f"""\
                Dir::Etc::SourceList "{self.tmp}/sources.list";
                Dir::Etc::SourceParts "/nonexistent";
                Dir::State::Lists "{state}/lists";
                Dir::Cache "{state}/cache";
                Dir::Cache::Archives "{state}/archives";
                """))
        self.env["APT_CONFIG"] = conf
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True,
                       env=self.env)

    def installed_version(self):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", self.PKG],
                           capture_output=True, text=True)
        if r.returncode != 0 or not r.stdout.startswith("install ok installed"):
            return None
        return r.stdout.split()[-1]

    def test_install_upgrade_and_remove_through_apt(self):
        require(self, os.geteuid() == 0, "needs root to install packages")
        require(self, shutil.which("dpkg-deb") and shutil.which("apt-ftparchive"),
                "needs dpkg-deb and apt-ftparchive (apt-utils)")
        self.assertIsNone(self.installed_version(), "left over from an earlier run")
        self.build_repo()
        try:
            for version, expect in (("1.0", "1.0"), ("2.0", "2.0")):
                self.write("states/pkg.toml",
                           f'[[package]]\nname = "{self.PKG}"\nversion = "{version}"\n')
                plan = self.shipshape("plan", "--state", "states/pkg.toml")
                self.assertIn(f"package {self.PKG}", plan.out, plan)
                r = self.shipshape("apply", "--state", "states/pkg.toml", timeout=300)
                self.assertEqual(r.code, 0, r)
                self.assertEqual(self.installed_version(), expect)
                again = self.shipshape("apply", "--state", "states/pkg.toml")
                self.assertIn("no changes", again.out, again)
            self.write("states/pkg.toml", f'[[package]]\nname = "{self.PKG}"\nversion = "absent"\n')
            r = self.shipshape("apply", "--state", "states/pkg.toml", timeout=300)
            self.assertEqual(r.code, 0, r)
            self.assertIsNone(self.installed_version())
        finally:
            subprocess.run(["dpkg", "--purge", self.PKG], capture_output=True)


if __name__ == "__main__":
    unittest.main()
