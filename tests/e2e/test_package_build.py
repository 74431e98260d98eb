"""`shipshape package build`: the .deb and manifest it writes, checked with Debian's own tools
(dpkg-deb, lintian, dpkg and apt installing it), reproducibility, bad specs, and shipshape's own
package (scripts/build-deb.sh).

Installs never touch this machine's root: they run in a private mount namespace (unshare)
with an overlay over / whose upper layer is a tmpfs, chrooted into the merged tree, so dpkg and
apt really run, and everything they write vanishes with the namespace."""
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import textwrap
import unittest

from harness import BIN, require

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
EPOCH = "1700000000"

SPEC = textwrap.dedent('''\
    name = "booking"
    version = "{{version}}"
    architecture = "amd64"
    maintainer = "Booking Team <booking@example.org>"
    section = "misc"
    priority = "optional"
    description = "room booking service"
    long_description = """
    Books rooms for teams.
    """
    depends = ["libc6 (>= 2.34)", "adduser | passwd"]
    conffiles = ["/etc/booking/booking.conf"]
    requirements = "requirements.toml"

    [[files]]
    source = "bin/booking"
    destination = "usr/bin/booking"

    [[files]]
    source = "conf/*.conf"
    destination = "etc/booking/"

    [[files]]
    source = "doc/"
    destination = "usr/share/doc/booking"

    [[links]]
    path = "usr/bin/bookingctl"
    target = "booking"

    [scripts]
    postinst = """#!/bin/sh
    set -e
    echo "configured $1 $2" > /var/lib/booking-postinst
    """
    prerm = { file = "scripts/prerm" }
    ''')


def make_project(dir):
    """A booking app tree with its spec; returns the spec's path."""
    def write(rel, text, mode=0o644):
        path = os.path.join(dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        os.chmod(path, mode)
    write("booking.toml", SPEC)
    write("bin/booking", "#!/bin/sh\necho booking 1.4.3\n", 0o755)
    write("conf/booking.conf", "port = 8080\nworkers = 4\n")
    write("doc/copyright", "Format: https://www.debian.org/doc/packaging-manuals/"
          "copyright-format/1.0/\nUpstream-Name: booking\n\nFiles: *\nCopyright: 2026 Booking "
          "Team\nLicense: other\n Internal.\n")
    changelog = ("booking (1.4.3) unstable; urgency=medium\n\n  * Release.\n\n"
                 " -- Booking Team <booking@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as g:
        g.write(changelog.encode())
    write("doc/changelog.gz", buf.getvalue())
    write("scripts/prerm", "#!/bin/sh\nset -e\nrm -f /var/lib/booking-postinst\n", 0o755)
    write("requirements.toml", '[resources]\nmemory = "2 GiB"\n')
    return os.path.join(dir, "booking.toml")


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, **kw)


def build(spec, out, *extra, env=None):
    e = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, NO_COLOR="1")
    e.update(env or {})
    return run([BIN, "package", "build", spec, "--set", "version=1.4.3", "-o", out, *extra],
               env=e)


def control_member(deb, name):
    """A member of the package's control.tar, read through dpkg-deb."""
    tar = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], capture_output=True, check=True,
                         timeout=60).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        return t.extractfile("./" + name).read()


OVERLAY_SCRIPT = r'''
set -e
base="$1"; shift
mount -t tmpfs tmpfs "$base"
mkdir "$base/upper" "$base/work" "$base/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root"
mount --bind /proc "$base/root/proc"
mount --rbind /dev "$base/root/dev"
mount -t tmpfs tmpfs "$base/root/tmp"
for deb in "$@"; do cp "$deb" "$base/root/tmp/"; done
chroot "$base/root" /bin/sh -c "$SCRIPT"
'''


def in_overlay_root(test, debs, script):
    """Runs `script` (sh) as root in a throw-away copy of this machine's root (see the module
    docstring), with `debs` copied to its /tmp. Returns the CompletedProcess."""
    require(test, os.geteuid() == 0, "needs root for a mount namespace and chroot")
    require(test, shutil.which("unshare") is not None, "needs unshare (util-linux)")
    base = tempfile.mkdtemp(prefix="shipshape-overlay-")
    try:
        env = dict(os.environ, SCRIPT=script, DEBIAN_FRONTEND="noninteractive",
                   PATH="/usr/sbin:/usr/bin:/sbin:/bin")
        r = run(["unshare", "--mount", "--propagation", "private", "sh", "-c", OVERLAY_SCRIPT,
                 "overlay", base, *debs], env=env)
        if r.returncode != 0 and "overlay" in r.stderr and "mount" in r.stderr:
            require(test, False, f"cannot mount an overlay over /: {r.stderr.strip()}")
        return r
    finally:
        os.rmdir(base)


class PackageBuildTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shipshape-pkg-")
        self.spec = make_project(os.path.join(self.tmp, "app"))
        self.out = os.path.join(self.tmp, "out")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def built(self, *extra):
        r = build(self.spec, self.out, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        deb = os.path.join(self.out, "booking_1.4.3_amd64.deb")
        manifest = os.path.join(self.out, "booking_1.4.3_amd64.manifest.json")
        self.assertTrue(os.path.exists(deb) and os.path.exists(manifest))
        return deb, manifest

    def test_dpkg_deb_agrees_with_the_manifest(self):
        import json
        deb, manifest_path = self.built()
        with open(manifest_path, "rb") as f:
            manifest_bytes = f.read()
        m = json.loads(manifest_bytes)
        # The manifest inside the package is the file beside it, byte for byte.
        self.assertEqual(control_member(deb, "shipshape-manifest.json"), manifest_bytes)
        # Control fields.
        for name, value in m["control"]:
            r = run(["dpkg-deb", "-f", deb, name])
            self.assertEqual(r.stdout.rstrip("\n"), value, name)
        self.assertEqual(m["depends"], ["libc6 (>= 2.34)", "adduser | passwd"])
        # Every member, with type, mode, owner, size and link target.
        listing = run(["dpkg-deb", "--contents", deb]).stdout.splitlines()
        seen = {}
        for line in listing:
            perms, owner, size, _date, _time, rest = line.split(None, 5)
            path, _, target = rest.partition(" -> ")
            path = "/" + path.lstrip("./").rstrip("/") if path != "./" else "/"
            seen[path] = (perms, owner, int(size), target)
        self.assertEqual(seen.pop("/")[0], "drwxr-xr-x")
        types = {"file": "-", "directory": "d", "symlink": "l"}
        self.assertEqual(sorted(seen), [e["path"] for e in m["files"]])
        for e in m["files"]:
            perms, owner, size, target = seen[e["path"]]
            self.assertEqual(perms[0], types[e["type"]], e["path"])
            self.assertEqual(int(e["mode"], 8), sum(
                (c != "-") << (8 - i) for i, c in enumerate(perms[1:])), e["path"])
            self.assertEqual(owner, f'{e["owner"]}/{e["group"]}')
            self.assertEqual(size, e.get("size", 0))
            self.assertEqual(target, e.get("target", ""))
        # Hashes: the payload as dpkg-deb extracts it.
        tree = os.path.join(self.tmp, "x")
        subprocess.run(["dpkg-deb", "-x", deb, tree], check=True)
        for e in m["files"]:
            if e["type"] == "file":
                with open(tree + e["path"], "rb") as f:
                    self.assertEqual(hashlib.sha256(f.read()).hexdigest(), e["sha256"])
        # md5sums as dh_md5sums writes them (conffiles left out); conffiles listed.
        md5sums = control_member(deb, "md5sums").decode()
        expected = ""
        for e in m["files"]:
            if e["type"] == "file" and e["path"] != "/etc/booking/booking.conf":
                with open(tree + e["path"], "rb") as f:
                    expected += f'{hashlib.md5(f.read()).hexdigest()}  {e["path"][1:]}\n'
        self.assertEqual(md5sums, expected)
        self.assertEqual(control_member(deb, "conffiles"), b"/etc/booking/booking.conf\n")
        self.assertEqual(m["conffiles"][0]["content"], "port = 8080\nworkers = 4\n")
        self.assertEqual(control_member(deb, "postinst").decode(), m["scripts"]["postinst"])
        self.assertIn("rm -f /var/lib/booking-postinst", m["scripts"]["prerm"])
        self.assertEqual(m["requirements"]["text"], '[resources]\nmemory = "2 GiB"\n')

    def test_lintian_has_no_errors(self):
        require(self, shutil.which("lintian") is not None, "needs lintian")
        deb, _ = self.built("--compression", "xz")
        r = run(["lintian", "--allow-root", deb])
        errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], r.stdout)
        # zstd (the default): Debian 12's lintian calls zstd members malformed although dpkg
        # 1.21 reads them; those are the only errors allowed.
        shutil.rmtree(self.out)
        deb, _ = self.built()
        r = run(["lintian", "--allow-root", deb])
        errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(len(errors), 2, r.stdout)
        for l in errors:
            self.assertIn("malformed-deb-archive", l)
            self.assertIn(".zst not", l)

    def test_builds_are_byte_identical(self):
        # A copy elsewhere, with every source touched now: mtimes clamp to SOURCE_DATE_EPOCH.
        other = os.path.join(self.tmp, "elsewhere", "app")
        shutil.copytree(os.path.dirname(self.spec), other)
        for d, _, files in os.walk(other):
            for f in files:
                os.utime(os.path.join(d, f))
        for c in ("zstd", "xz", "gzip", "none"):
            out1, out2 = os.path.join(self.tmp, "o1-" + c), os.path.join(self.tmp, "o2-" + c)
            r1 = build(self.spec, out1, "--compression", c)
            r2 = build(os.path.join(other, "booking.toml"), out2, "--compression", c)
            self.assertEqual((r1.returncode, r2.returncode), (0, 0), r1.stderr + r2.stderr)
            for name in ("booking_1.4.3_amd64.deb", "booking_1.4.3_amd64.manifest.json"):
                with open(os.path.join(out1, name), "rb") as a, \
                        open(os.path.join(out2, name), "rb") as b:
                    self.assertEqual(a.read(), b.read(), f"{c}: {name}")
        # gzip's header has room for a time: it must be zero.
        out_gz = os.path.join(self.tmp, "o1-gzip", "booking_1.4.3_amd64.deb")
        raw = subprocess.run(["ar", "p", out_gz, "data.tar.gz"], capture_output=True).stdout
        self.assertEqual(raw[:2], b"\x1f\x8b")
        self.assertEqual(raw[4:8], b"\0\0\0\0")

    def test_bad_specs_exit_2_and_write_nothing(self):
        app = os.path.dirname(self.spec)
        rows = [
            # (what, replace this, with this, expected in stderr)
            ("absolute destination", 'destination = "usr/bin/booking"',
             'destination = "/usr/bin/booking"', "booking.toml:17:15:"),
            ("dotdot destination", 'destination = "usr/bin/booking"',
             'destination = "usr/../../booking"', "must not have '..' parts"),
            ("source escapes", 'source = "bin/booking"', 'source = "../../etc/passwd"',
             "escapes the spec's directory"),
            ("missing source", 'source = "bin/booking"', 'source = "bin/nope"',
             "booking.toml:15:1: [[files]] source 'bin/nope' does not exist"),
            ("conffile outside /etc", '"/etc/booking/booking.conf"', '"/usr/bin/booking"',
             "booking.toml:12:14: conffile \"/usr/bin/booking\" must be an absolute path under"),
            ("duplicate destination", 'destination = "usr/share/doc/booking"',
             'destination = "usr/bin/booking"', "is already in the package"),
            ("invalid version", 'version = "{{version}}"', 'version = "v{{version}}"',
             "booking.toml:2:11: 'version' \"v1.4.3\" must start with a digit"),
            ("invalid relation", '"libc6 (>= 2.34)"', '"libc6 (=> 2.34)"',
             "booking.toml:11:12: depends relation"),
        ]
        with open(self.spec) as f:
            original = f.read()
        for what, old, new, expected in rows:
            with self.subTest(what):
                self.assertIn(old, original)
                with open(self.spec, "w") as f:
                    f.write(original.replace(old, new, 1))
                r = build(self.spec, self.out)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(expected, r.stderr)
                self.assertFalse(os.path.exists(self.out) and os.listdir(self.out),
                                 os.listdir(self.out) if os.path.exists(self.out) else None)
        # A symlinked source leading out of the spec's directory.
        os.symlink("/etc/passwd", os.path.join(app, "bin", "evil"))
        with open(self.spec, "w") as f:
            f.write(original.replace('source = "bin/booking"', 'source = "bin/evil"', 1))
        r = build(self.spec, self.out)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("escapes the spec's directory (it resolves to '/etc/passwd')", r.stderr)
        self.assertFalse(os.path.exists(self.out) and os.listdir(self.out))


class PackageInstallTest(unittest.TestCase):
    """dpkg -i and apt-get install accept what package build writes."""

    # Its overlay has this machine's root as the lower layer: no apt may change that meanwhile.
    RESOURCE_LOCK = "dpkg"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shipshape-pkg-")
        self.spec = make_project(os.path.join(self.tmp, "app"))
        self.out = os.path.join(self.tmp, "out")
        r = build(self.spec, self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.deb = os.path.join(self.out, "booking_1.4.3_amd64.deb")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    CHECK = ('/usr/bin/booking && readlink /usr/bin/bookingctl && cat /etc/booking/booking.conf '
             '&& cat /var/lib/booking-postinst && dpkg-query -W -f=\'${Status} ${Version}\\n\' '
             'booking && cat /var/lib/dpkg/info/booking.conffiles')

    def check_installed(self, r):
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("booking 1.4.3\nbooking\nport = 8080\nworkers = 4\nconfigured configure \n"
                      "install ok installed 1.4.3\n/etc/booking/booking.conf\n", r.stdout)

    def test_dpkg_installs_and_removes_it(self):
        r = in_overlay_root(self, [self.deb],
                            "dpkg -i /tmp/booking_1.4.3_amd64.deb >/dev/null && " + self.CHECK +
                            " && dpkg -r booking >/dev/null && test ! -e /usr/bin/booking "
                            "&& test ! -e /var/lib/booking-postinst && echo removed")
        self.check_installed(r)
        self.assertTrue(r.stdout.endswith("removed\n"), r.stdout)
        self.assertFalse(os.path.exists("/usr/bin/booking"))

    def test_apt_installs_it(self):
        r = in_overlay_root(self, [self.deb],
                            "apt-get install -y -q /tmp/booking_1.4.3_amd64.deb >/dev/null && " +
                            self.CHECK)
        self.check_installed(r)


class ShipshapePackageTest(unittest.TestCase):
    """shipshape ships as a package it builds itself (scripts/build-deb.sh)."""

    # Its overlay has this machine's root as the lower layer: no apt may change that meanwhile.
    RESOURCE_LOCK = "dpkg"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shipshape-self-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_build_deb_script_and_install(self):
        require(self, shutil.which("dpkg-shlibdeps") is not None, "needs dpkg-dev")
        build_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(BIN))))
        r = run([os.path.join(ROOT, "scripts", "build-deb.sh"), build_dir, self.tmp],
                env=dict(os.environ, SOURCE_DATE_EPOCH=EPOCH))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        debs = [f for f in os.listdir(self.tmp) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, debs)
        self.assertRegex(debs[0], r"^shipshape_[0-9.]+_amd64\.deb$")
        deb = os.path.join(self.tmp, debs[0])
        depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
        for lib in ("libc6 (>=", "libsqlite3-0 (>=", "libstdc++6 (>=", "libarchive13 (>="):
            self.assertIn(lib, depends)
        contents = run(["dpkg-deb", "--contents", deb]).stdout
        for path in ("./usr/bin/shipshape", "./usr/bin/shipshape-fault",
                     "./usr/lib/shipshape/libshipshape_clock_skew.so",
                     "./usr/share/doc/shipshape/manual.md",
                     "./usr/share/doc/shipshape/copyright"):
            self.assertIn(path + "\n", contents)
        r = in_overlay_root(self, [deb], f"apt-get install -y -q /tmp/{debs[0]} >/dev/null && "
                            "shipshape --version && shipshape fault --help | head -1 && "
                            "dpkg-query -W -f='${Status}\\n' shipshape")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("shipshape 0.", r.stdout)
        self.assertIn("install ok installed", r.stdout)


if __name__ == "__main__":
    unittest.main()
