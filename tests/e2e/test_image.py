"""Production images end to end (issue #18): `image build` from an offline repository of genuine
Debian .debs (debrepo.py; never the network), `image list --json`, reproducible builds under
SOURCE_DATE_EPOCH, a state-only change rebuilt on the cached package base, a killed build that
registers nothing, clear errors for an unknown package version and a missing mmdebstrap, and
`image check --json` of this machine against a built image, checked against dpkg-query. Also:
packaging/lab-packages.txt holds every package owning a library the shipshape binary loads.

mmdebstrap builds need root (--mode=root) and the offline .debs that
`scripts/install-deps.sh test` downloads; without them the tests say so (harness.require)."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import unittest

import debrepo
from harness import BIN, FleetTestCase, RepoTestCase, Result, require

HERE = os.path.dirname(os.path.abspath(__file__))
LAB_LIST = os.path.join(HERE, "..", "..", "packaging", "lab-packages.txt")
EPOCH = "1700000000"


def lab_list():
    with open(LAB_LIST) as f:
        return {line.split("#", 1)[0].strip() for line in f} - {""}


def ldd_owners(binary):
    """{library path: owning Debian package} for what `ldd binary` resolves."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            paths.append(os.path.realpath(m.group(1)))
    owners = {}
    for path in paths:
        # dpkg -S knows the path as the package installed it (/lib is /usr/lib merged).
        for candidate in (path, path.replace("/usr/lib/", "/lib/", 1),
                          path.replace("/lib/", "/usr/lib/", 1)):
            r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if r.returncode == 0:
                owners[path] = r.stdout.split(":", 1)[0].split(",")[0].strip()
                break
        else:
            owners[path] = None
    return owners


class LabPackagesTest(unittest.TestCase):
    """packaging/lab-packages.txt names the package of every library the built binary links."""

    def test_list_matches_ldd(self):
        require(self, shutil.which("ldd") and shutil.which("dpkg"), "needs ldd and dpkg")
        owners = ldd_owners(BIN)
        unowned = sorted(p for p, o in owners.items() if o is None)
        self.assertEqual(unowned, [], "libraries of shipshape no Debian package owns")
        listed = lab_list()
        missing = sorted({o for o in owners.values()} - listed)
        self.assertEqual(missing, [],
                         f"shipshape links libraries of {', '.join(missing)}: add "
                         "them to packaging/lab-packages.txt (lab hosts run the agent)")


class DebRepoTest(unittest.TestCase):
    """debrepo.py makes a flat repository apt and mmdebstrap accept, with extra .debs."""

    def test_repo_lists_every_deb_and_the_suite(self):
        require(self, debrepo.unavailable() is None, str(debrepo.unavailable()))
        tmp = tempfile.mkdtemp(prefix="shipshape-debrepo-")
        try:
            extra = debrepo.make_deb(tmp, "shipshape-e2e-hello", "2.0")
            line = debrepo.make_repo(os.path.join(tmp, "repo"), [extra])
            self.assertEqual(line, f"deb [trusted=yes] copy://{tmp}/repo ./")
            with open(os.path.join(tmp, "repo", "Packages")) as f:
                names = re.findall(r"^Package: (\S+)$", f.read(), re.M)
            self.assertIn("shipshape-e2e-hello", names)
            self.assertIn("openssh-server", names)
            self.assertIn("libc6", names)
            with open(os.path.join(tmp, "repo", "Release")) as f:
                release = f.read()
            self.assertIn("Suite: bookworm\n", release)
            self.assertIn("Codename: bookworm\n", release)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class ImageTestCase(RepoTestCase):
    """A RepoTestCase whose tests build images with mmdebstrap from an offline repository."""
    RESOURCE_LOCK = "dpkg"  # mmdebstrap runs apt and dpkg (in the image, but one at a time)

    def setUp(self):
        super().setUp()
        require(self, os.geteuid() == 0, "image build runs mmdebstrap --mode=root: needs root")
        require(self, shutil.which("mmdebstrap"),
                "mmdebstrap is not installed (scripts/install-deps.sh)")
        reason = debrepo.unavailable()
        require(self, reason is None, str(reason))
        self.source = debrepo.make_repo(os.path.join(self.tmp, "repo"))

    def spec(self, name="mini", **kwargs):
        return debrepo.write_spec(os.path.join(self.repo, "images", name + ".toml"), name,
                                  self.source, **kwargs)

    def build(self, spec_rel, env=None, cwd=None):
        r = self.shipshape("image", "build", spec_rel, env=env, cwd=cwd, timeout=600)
        self.assertEqual(r.code, 0, r)
        image_id = r.out.strip().splitlines()[-1]
        self.assertRegex(image_id, r"^[0-9a-f]{64}$", r)
        return image_id

    def images(self, cwd=None):
        r = self.shipshape("--json", "image", "list", cwd=cwd)
        self.assertEqual(r.code, 0, r)
        return r.json()


class ImageBuildTest(ImageTestCase):

    def test_build_prints_the_id_and_list_shows_the_lineage(self):
        self.spec()
        image_id = self.build("images/mini.toml")
        images = self.images()
        self.assertEqual(len(images), 1, images)
        img = images[0]
        for field in ("id", "name", "created", "parent", "spec"):
            self.assertIn(field, img)
        self.assertEqual(img["id"], image_id)
        self.assertEqual(img["name"], "mini")
        self.assertEqual(img["spec"], "images/mini.toml")
        self.assertRegex(img["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(os.path.isdir(os.path.join(
            self.repo, ".shipshape", "images", "bases", img["parent"], "rootfs")), img)

    def test_unknown_package_version_is_a_clear_error(self):
        versions = debrepo.versions()
        self.spec(packages={"openssh-server": "1:0.0-nonexistent"})
        r = self.shipshape("image", "build", "images/mini.toml", timeout=600)
        self.assertNotEqual(r.code, 0, r)
        self.assertIn("openssh-server", r.err)
        self.assertIn("1:0.0-nonexistent", r.err)
        self.assertIn("openssh-server", versions)  # the package exists, only not that version
        self.assertEqual(self.images(), [])

    def test_missing_mmdebstrap_is_a_clear_error(self):
        # A PATH holding every command of this machine but mmdebstrap.
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            if not os.path.isdir(d) or os.path.islink(d):
                continue
            for name in os.listdir(d):
                link = os.path.join(bindir, name)
                if name != "mmdebstrap" and not os.path.lexists(link):
                    os.symlink(os.path.join(d, name), link)
        self.spec()
        env = dict(self.env, PATH=bindir)
        r = self.shipshape("image", "build", "images/mini.toml", env=env, timeout=600)
        self.assertEqual(r.code, 3, r)  # unsupported: this machine lacks a tool
        self.assertIn("mmdebstrap", r.err)
        self.assertEqual(self.images(), [])

    def test_killed_build_leaves_no_image(self):
        self.spec(packages={"openssh-server": debrepo.versions()["openssh-server"]})
        bases = os.path.join(self.repo, ".shipshape", "images", "bases")
        p = self.start("image", "build", "images/mini.toml")
        try:
            # Killed while mmdebstrap works on the base (its temporary directory exists).
            self.wait_for(lambda: os.path.isdir(bases) and any(
                n.startswith("tmp") for n in os.listdir(bases)) or p.poll() is not None,
                timeout=300, what="the build to start its base")
            self.assertIsNone(p.poll(), "the build finished before it could be killed")
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        finally:
            if p.poll() is None:
                p.kill()
            p.communicate()
        # Its mmdebstrap, orphaned, runs to its end and cleans up its own mounts.
        self.wait_for(lambda: not self._processes_under(self.repo), timeout=300,
                      what="the orphaned mmdebstrap to exit")
        self.assertEqual(self.images(), [])
        names = os.path.join(self.repo, ".shipshape", "images", "names")
        self.assertEqual(os.listdir(names) if os.path.isdir(names) else [], [])

    @staticmethod
    def _processes_under(path):
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if path.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
        return found


class ImageCacheTest(ImageTestCase):
    """Builds under SOURCE_DATE_EPOCH are reproducible, and a change only in the state's files
    re-applies the layer on the cached base."""

    def setUp(self):
        super().setUp()
        self.write("shipshape.toml", 'name = "test"\n[roles]\nweb = ["states/web.toml"]\n')
        self.write("states/web.toml", textwrap.dedent("""\
            [[file]]
            path = "/etc/shipshape-e2e/app.conf"
            content = "workers = 4\\n"
            """))
        self.spec(roles=["web"])
        self.env["SOURCE_DATE_EPOCH"] = EPOCH

    def base_manifest(self, repo, image_id):
        with open(os.path.join(repo, ".shipshape", "images", image_id, "image.json")) as f:
            parent = json.load(f)["parent"]
        with open(os.path.join(repo, ".shipshape", "images", "bases", parent,
                               "manifest.txt")) as f:
            return parent, f.read().splitlines()

    def test_same_spec_twice_gives_the_same_manifest(self):
        first = self.build("images/mini.toml")
        # The same spec and state in a second ops repo: nothing cached there.
        other = os.path.join(self.tmp, "ops2")
        shutil.copytree(self.repo, other, ignore=shutil.ignore_patterns(".shipshape"))
        second = self.build("images/mini.toml", cwd=other)
        key1, m1 = self.base_manifest(self.repo, first)
        key2, m2 = self.base_manifest(other, second)
        self.assertEqual(key1, key2)
        differing = sorted(set(m1) ^ set(m2))
        self.assertEqual(differing, [], "base manifests differ in these lines")
        self.assertEqual(first, second, "same spec, state and SOURCE_DATE_EPOCH: same image id")
        img = self.images()[0]
        self.assertEqual(img["created"], "2023-11-14T22:13:20Z")  # SOURCE_DATE_EPOCH

    def test_state_change_rebuilds_only_the_layer(self):
        first = self.build("images/mini.toml")
        key, _ = self.base_manifest(self.repo, first)
        base = os.path.join(self.repo, ".shipshape", "images", "bases", key, "rootfs")
        before = os.stat(base)
        libc_before = os.stat(os.path.join(base, "usr", "bin", "dpkg"))
        self.write("states/web.toml", textwrap.dedent("""\
            [[file]]
            path = "/etc/shipshape-e2e/app.conf"
            content = "workers = 8\\n"
            """))
        start = time.monotonic()
        second = self.build("images/mini.toml")
        elapsed = time.monotonic() - start
        self.assertNotEqual(first, second)
        key2, _ = self.base_manifest(self.repo, second)
        self.assertEqual(key2, key, "the package base is the same")
        after = os.stat(base)
        self.assertEqual((before.st_ino, before.st_mtime_ns), (after.st_ino, after.st_mtime_ns),
                         "the cached base was rebuilt")
        self.assertEqual(libc_before.st_ino,
                         os.stat(os.path.join(base, "usr", "bin", "dpkg")).st_ino)
        self.assertEqual(len(os.listdir(os.path.dirname(os.path.dirname(base)))), 1,
                         "one base only")
        with open(os.path.join(self.repo, ".shipshape", "images", second, "layer", "etc",
                               "shipshape-e2e", "app.conf")) as f:
            self.assertEqual(f.read(), "workers = 8\n")
        print(f"\n  layer-only rebuild took {elapsed:.1f} s", flush=True)


def dpkg_installed():
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Status}\n"],
                         capture_output=True, text=True, check=True).stdout
    return {p: v for p, v, s in (line.split(" ") for line in out.splitlines()) if s == "installed"}


def dpkg_newer(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


class ImageCheckTest(ImageTestCase):
    """image check of this machine against a built image: the delta is what dpkg-query says."""

    def test_check_json_of_this_machine(self):
        self.write("shipshape.toml", 'name = "test"\n[image]\npatch_max = 5\n')
        self.spec()
        image_id = self.build("images/mini.toml")
        r = self.shipshape("--json", "image", "check", "localhost", "--against", "mini")
        self.assertIn(r.code, (0, 1), r)
        doc = r.json()
        self.assertEqual(doc["image"]["id"], image_id)
        self.assertGreaterEqual(doc["image"]["age_seconds"], 0)
        self.assertEqual(doc["policy"]["patch_max"], 5)
        [host] = doc["hosts"]
        self.assertEqual(host["host"], "localhost")
        self.assertEqual(host["source"], "live")
        self.assertIn(host["drift"], (0, None))  # the test repo gives localhost no roles
        with open(os.path.join(self.repo, ".shipshape", "images", image_id, "image.json")) as f:
            image = {p["name"]: p["version"] for p in json.load(f)["packages"]}
        here = dpkg_installed()
        pk = host["packages"]
        self.assertEqual(sorted(a["name"] for a in pk["additions"]),
                         sorted(set(here) - set(image)))
        self.assertEqual(sorted(a["name"] for a in pk["removals"]),
                         sorted(set(image) - set(here)))
        changed = sorted(n for n in set(here) & set(image) if here[n] != image[n])
        self.assertEqual(sorted(c["name"] for c in pk["upgrades"] + pk["downgrades"]), changed)
        for c in pk["upgrades"]:
            self.assertTrue(dpkg_newer(c["host"], c["image"]), c)
        # This machine has far more than 5 packages beyond the essential set.
        self.assertEqual(host["recommendation"], "rebuild")
        self.assertEqual(r.code, 1)


class ImageCheckPlantedTest(ImageTestCase):
    """The README's step 7 on saved facts: a host that is the image plus one planted package
    change is told to patch; after a libc6 change, to rebuild."""

    def test_patch_then_rebuild_after_a_libc_change(self):
        self.write("inventory.toml", textwrap.dedent("""\
            [env.prod]
            hosts = ["web1"]
            [host.web1]
            address = "10.254.0.1"
            """))
        self.spec()
        image_id = self.build("images/mini.toml")
        with open(os.path.join(self.repo, ".shipshape", "images", image_id, "image.json")) as f:
            packages = json.load(f)["packages"]
        r = self.shipshape("--json", "facts", cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        [facts] = r.json()["hosts"]  # this machine's document (shipshape.facts/1)

        def save(changes):
            doc = dict(facts, host="web1")
            doc["packages"] = [dict(name=p["name"], version=changes.get(p["name"], p["version"]),
                                    architecture=p["architecture"] or "amd64",
                                    status="installed") for p in packages]
            path = os.path.join(self.tmp, "web1.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            r = self.shipshape("facts", "import", "web1", path)
            self.assertEqual(r.code, 0, r)

        def check():
            r = self.shipshape("--json", "image", "check", "web1", "--against", "mini", "--saved")
            self.assertEqual(r.code, 1, r)
            [host] = r.json()["hosts"]
            return host

        versions = {p["name"]: p["version"] for p in packages}
        save({"bash": versions["bash"] + "+planted1"})
        host = check()
        self.assertEqual(host["source"], "stored")
        self.assertEqual(host["recommendation"], "patch", host)
        self.assertEqual(host["packages"]["upgrades"],
                         [{"name": "bash", "image": versions["bash"],
                           "host": versions["bash"] + "+planted1"}])
        self.assertEqual(host["plan"], [f"install bash={versions['bash']}"])
        save({"libc6": versions["libc6"] + "+planted1"})
        host = check()
        self.assertEqual(host["recommendation"], "rebuild", host)
        self.assertEqual(host["reasons"],
                         ['libc6 upgrade cannot be patched in place (rebuild_on "libc6")'])
        r = self.shipshape("image", "check", "web1", "--against", "mini", "--saved")
        self.assertIn("web1             rebuild", r.out)
        self.assertIn('why: libc6 upgrade cannot be patched in place (rebuild_on "libc6")', r.out)


class ImageCheckFleetTest(ImageTestCase, FleetTestCase):
    """image check of remote hosts, live: packages from their agents' facts, drift from their
    agents' desired-state reports. The test fleet's hosts share this machine's dpkg database,
    but /srv is each host's own: the role's file there is missing on every host (drift 1)."""
    fleet_size = 2

    def test_live_remote_hosts_through_their_agents(self):
        self.write("shipshape.toml", 'name = "test"\n[roles]\nweb = ["states/web.toml"]\n')
        self.write("states/web.toml", textwrap.dedent("""\
            [[file]]
            path = "/srv/shipshape-e2e-image/app.conf"
            content = "workers = 4\\n"
            """))
        hosts = [h["name"] for h in self.fleet.hosts]
        self.write("inventory.toml", self.fleet.inventory_toml(
            env="prod", groups={"web": {"hosts": hosts, "roles": ["web"]}}))
        self.spec()
        image_id = self.build("images/mini.toml")
        # From the fleet's controller namespace, where the hosts' addresses are reachable.
        r = Result(subprocess.run(
            self.fleet.cmd([BIN, "--json", "image", "check", "env:prod", "--against", "mini"]),
            cwd=self.repo, capture_output=True, text=True, env=self.env, timeout=300,
            stdin=subprocess.DEVNULL))
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        self.assertEqual(doc["image"]["id"], image_id)
        self.assertEqual([h["host"] for h in doc["hosts"]], hosts)
        with open(os.path.join(self.repo, ".shipshape", "images", image_id, "image.json")) as f:
            image = {p["name"] for p in json.load(f)["packages"]}
        additions = sorted(set(dpkg_installed()) - image)
        for host in doc["hosts"]:
            self.assertEqual(host["source"], "live", host)
            self.assertEqual(host["drift"], 1, host["host"])
            self.assertEqual(host["recommendation"], "rebuild", host["host"])
            self.assertEqual(sorted(a["name"] for a in host["packages"]["additions"]), additions,
                             host["host"])


class ImageScheduleTest(RepoTestCase):
    """image schedule --weekly prints the timer and service; without a schedule it says how."""

    def test_weekly_units(self):
        r = self.shipshape("image", "schedule", "--weekly", "--hosts", "env:staging")
        self.assertEqual(r.code, 0, r)
        self.assertIn("# /etc/systemd/system/shipshape-image.timer\n[Unit]\n", r.out)
        self.assertIn("OnCalendar=weekly\n", r.out)
        self.assertIn(f"WorkingDirectory={os.path.realpath(self.repo)}\n", r.out)
        self.assertIn("image snapshot env:staging -o images/prod.toml\n", r.out)
        self.assertIn("image build images/prod.toml\n", r.out)
        r = self.shipshape("image", "schedule")
        self.assertEqual(r.code, 2, r)
        self.assertIn("--weekly or --calendar", r.err)
