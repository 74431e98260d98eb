"""`shipshape package diff` with an installed side, end to end on real parts: two versions of a
throw-away package built with `shipshape package build`, the old one installed with `dpkg -i`
on this machine and its conffile edited by hand, then read back as NAME@HOST through a test
fleet host's agent over ssh, as NAME@env:ENV (every host of the environment, in parallel) and
as NAME@localhost (read in-process). The test fleet's hosts share this machine's file system
(all but /root and /srv), so their dpkg database is this machine's; the package's file under
/srv is therefore on this machine only, until a test puts it on a host: it shows which machine
a side was read on."""
import json
import os
import shutil
import subprocess
import textwrap
import time

from harness import BIN, FleetTestCase, Result, require

PKG = "shipshape-e2e-booking"
CONF = f"/etc/{PKG}/booking.conf"
SRV = f"/srv/{PKG}/data.txt"  # private to each fleet host


def dpkg(*args):
    """dpkg ARGS, again while another test holds dpkg's lock (dpkg itself does not wait)."""
    for _ in range(60):
        r = subprocess.run(["dpkg", *args], capture_output=True, text=True)
        if r.returncode == 0 or "lock" not in r.stderr:
            return r
        time.sleep(1)
    return r


def installed_version(name):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", name],
                       capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.startswith("install ok installed"):
        return None
    return r.stdout.split()[-1]


class InstalledPackageDiffTest(FleetTestCase):
    fleet_size = 2
    RESOURCE_LOCK = "dpkg"  # installs into this machine's dpkg database

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, "needs root to install packages")
        require(self, shutil.which("dpkg"), "needs dpkg")
        self.assertIsNone(installed_version(PKG), "left over from an earlier run")
        self.assertTrue(os.path.isdir("/srv"), "the test fleet needs /srv")
        self.old = self.build("1.4.2", conf="port = 8080\nworkers = 4\n",
                              postinst="#!/bin/sh\nset -e\necho configured\n", extra=False)
        self.new = self.build("1.4.3", conf="port = 8080\nworkers = 8\n",
                              postinst="#!/bin/sh\nset -e\necho configured\necho migrated\n",
                              extra=True)
        self.hosts = [h["name"] for h in self.fleet.hosts]
        self.write("inventory.toml", self.fleet.inventory_toml(env="prod") + textwrap.dedent("""
            [env.lost]
            hosts = ["ghost"]

            [host.ghost]
            address = "192.0.2.1"
            user = "root"
            """))

    def tearDown(self):
        # /srv belongs to no package here: dpkg would remove it with ours once empty, and the
        # test fleet mounts its hosts' private /srv there. A file of ours keeps it.
        keep = "/srv/.shipshape-e2e-keep"
        open(keep, "w").close()
        dpkg("--purge", PKG)
        os.unlink(keep)
        shutil.rmtree(f"/etc/{PKG}", ignore_errors=True)
        if self.fleet:
            for name in self.hosts:
                self.fleet.ssh(name, f"rm -rf /srv/{PKG}")
        super().tearDown()

    def build(self, version, conf, postinst, extra):
        """A package with a conffile, a postinst, files and operating requirements; `extra`
        (the new version) adds one file and removes another."""
        src = os.path.join(self.tmp, "src-" + version)
        files = {"booking.conf": conf, "bin/booking": f"booking {version}\n",
                 ("share/added.txt" if extra else "share/removed.txt"): "x\n",
                 "share/same.txt": "same\n", "data.txt": "data\n"}
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
            with open(os.path.join(src, rel), "w") as f:
                f.write(text)
        with open(os.path.join(src, "requirements.toml"), "w") as f:
            f.write('[resources]\nmemory = "1 MiB"\n')
        spec = os.path.join(src, "booking.toml")
        with open(spec, "w") as f:
            f.write(textwrap.dedent(f'''\
                name = "{PKG}"
                version = "{{{{version}}}}"
                architecture = "all"
                maintainer = "shipshape tests <tests@localhost>"
                description = "throw-away package for shipshape's installed-side tests"
                conffiles = ["{CONF}"]
                requirements = "requirements.toml"

                [[files]]
                source = "booking.conf"
                destination = "etc/{PKG}/booking.conf"

                [[files]]
                source = "bin/booking"
                destination = "usr/lib/{PKG}/booking"

                [[files]]
                source = "data.txt"
                destination = "srv/{PKG}/data.txt"

                [[files]]
                source = "share/"
                destination = "usr/share/{PKG}"

                [scripts]
                postinst = """{postinst}"""
                '''))
        out = os.path.join(self.tmp, "out")
        r = self.shipshape("package", "build", spec, "--set", f"version={version}", "-o", out,
                           "--compression", "xz")
        self.assertEqual(r.code, 0, r)
        return os.path.join(out, f"{PKG}_{version}_all.deb")

    def install_old(self, edit=True):
        r = dpkg("-i", self.old)
        self.assertEqual(r.returncode, 0, r.stderr)
        if edit:
            with open(CONF, "a") as f:
                f.write("# tuned by hand\n")

    def diff(self, *args):
        """package diff run as the controller of the test fleet (its own network namespace)."""
        r = subprocess.run(self.fleet.cmd([BIN, "package", "diff", *args]), cwd=self.repo,
                           capture_output=True, text=True, timeout=120, env=self.env,
                           stdin=subprocess.DEVNULL)
        return Result(r)

    def test_a_host_through_its_agent_shows_the_upgrade_and_the_local_edit(self):
        self.install_old()
        side = f"{PKG}@{self.hosts[0]}"
        r = self.diff(side, self.new)
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"{PKG} 1.4.2 on {self.hosts[0]}", r.out)
        self.assertIn("postinst", r.out)
        self.assertIn("+echo migrated", r.out)
        self.assertIn(CONF, r.out)
        self.assertIn("-workers = 4", r.out)
        self.assertIn("+workers = 8", r.out)
        self.assertIn("-# tuned by hand", r.out)  # what is on the box, not what was shipped
        self.assertIn("edited locally: dpkg will prompt", r.out)
        self.assertIn("note: edited locally on the host; dpkg will prompt", r.out)
        self.assertIn(f"/usr/share/{PKG}/added.txt", r.out)
        self.assertIn(f"/usr/share/{PKG}/removed.txt", r.out)

        doc = self.diff("--json", side, self.new).json()
        conf = [c for c in doc["conffiles"] if c["path"] == CONF]
        self.assertEqual(len(conf), 1, doc["conffiles"])
        self.assertTrue(conf[0]["modified_locally"])
        self.assertTrue(conf[0]["dpkg_prompts"])
        self.assertIn("postinst", json.dumps(doc["scripts"]))
        self.assertIn(f"/usr/share/{PKG}/added.txt",
                      [f["path"] for f in doc["files"]["added"]])
        self.assertIn(f"/usr/share/{PKG}/removed.txt",
                      [f["path"] for f in doc["files"]["removed"]])
        # Read on the host, where /srv is its own: the file installed here is not there.
        self.assertIn(SRV, [f["path"] for f in doc["files"]["added"]])
        here = self.diff("--json", f"{PKG}@localhost", self.new).json()
        self.assertNotIn(SRV, [f["path"] for f in here["files"]["added"]])

    def test_an_environment_checks_the_new_requirements_on_its_hosts(self):
        self.install_old()
        r = self.diff(f"{PKG}@env:prod", self.new)
        self.assertEqual(r.code, 1, r)
        self.assertIn(f"{PKG} 1.4.2 in env:prod (as on {self.hosts[0]})", r.out)
        self.assertIn("dpkg will prompt", r.out)
        self.assertNotIn("note:", r.err)  # both hosts have the same bytes (one file system)

        doc = self.diff("--json", f"{PKG}@env:prod", self.new).json()
        req = doc["requirements"]
        self.assertEqual(req["checked_against"], "env:prod", req)
        self.assertEqual(sorted({c["host"] for c in req["checks"]}), sorted(self.hosts), req)
        self.assertTrue(all(c["verdict"] == "ok" for c in req["checks"]), req)

    def test_the_same_version_differs_only_by_the_local_edit(self):
        # Design: an installed side is what is on the box, so a local edit is a difference
        # (exit 1) even against the very package that was installed; untouched, it is none.
        # dpkg does not keep the embedded manifest, so the installed side's requirements are
        # unknown: said so, and not counted as a change.
        self.install_old(edit=False)
        put = self.fleet.ssh(self.hosts[1], f"mkdir -p /srv/{PKG} && echo data > {SRV}")
        self.assertEqual(put.returncode, 0, put.stderr)
        for side in (f"{PKG}@{self.hosts[1]}", f"{PKG}@localhost"):
            r = self.diff(side, self.old)
            self.assertEqual(r.code, 0, (side, r))
            self.assertIn("no differences; cannot compare needs: a: the installed version's "
                          "requirements are not known", r.out)
        with open(CONF, "a") as f:
            f.write("# tuned by hand\n")
        r = self.diff(f"{PKG}@{self.hosts[1]}", self.old)
        self.assertEqual(r.code, 1, r)
        self.assertIn("requirements  not compared", r.out)
        doc = self.diff("--json", f"{PKG}@{self.hosts[1]}", self.old).json()
        self.assertEqual([c["path"] for c in doc["conffiles"]], [CONF], doc)
        self.assertEqual(doc["scripts"], [], doc)
        self.assertEqual([f["path"] for f in doc["files"]["changed"]], [CONF], doc)
        self.assertEqual(doc["files"]["added"] + doc["files"]["removed"], [], doc)

    def test_not_installed_or_out_of_reach_is_an_error(self):
        r = self.diff(f"{PKG}@{self.hosts[0]}", self.new)
        self.assertEqual(r.code, 2, r)
        self.assertIn(f"package '{PKG}' is not installed", r.err)
        self.assertIn(self.hosts[0], r.err)
        self.assertEqual(r.out, "")

        r = self.diff(f"{PKG}@ghost", self.new)
        self.assertEqual(r.code, 2, r)
        self.assertIn("ghost", r.err)
        self.assertNotIn("not installed", r.err)
