"""`shipshape package diff`: the upgrade review of two real .deb files built here with dpkg-deb
(v1 and v2 differ in every way the issue lists), their manifests, and bad input."""
import hashlib
import json
import os
import shutil
import subprocess
import textwrap

from harness import RepoTestCase

CONF_PATH = "/etc/booking/booking.conf"


def write(root, rel, text, mode=0o644):
    path = os.path.join(root, rel.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class PackageDiffTest(RepoTestCase):
    def setUp(self):
        super().setUp()
        if shutil.which("dpkg-deb") is None:
            self.fail("dpkg-deb is missing (scripts/install-deps.sh installs dpkg-dev)")
        self.v1 = self.build("1.0", conf="port = 8080\nworkers = 4\n",
                             postinst="#!/bin/sh\nset -e\nadduser --system booking\n",
                             depends="libc6 (>= 2.36), libssl3 (>= 3.0), adduser",
                             memory="2 GiB", extra=False)
        self.v2 = self.build("1.1", conf="port = 8080\nworkers = 8\n",
                             postinst="#!/bin/sh\nset -e\nadduser --system booking\n"
                                      "systemctl restart booking || true\n",
                             depends="libc6 (>= 2.36), libssl3 (>= 3.1), adduser",
                             memory="4 GiB", extra=True)

    def build(self, version, conf, postinst, depends, memory, extra):
        """A package tree with a conffile, a postinst, a symlink, an embedded manifest with
        requirements; `extra` (v2) adds, removes, retargets and re-owns."""
        root = os.path.join(self.tmp, "booking-" + version)
        write(root, CONF_PATH, conf)
        write(root, "/usr/bin/booking", "ELF booking " + version + "\n", 0o755)
        write(root, "/usr/share/booking/same-size.txt", "AAAA" if not extra else "BBBB")
        write(root, "/usr/share/booking/unchanged.txt", "same\n")
        write(root, "/usr/share/booking/mode.txt", "m\n", 0o600 if extra else 0o644)
        owned = write(root, "/var/lib/booking/state", "s\n")
        if extra:
            os.chown(owned, 1, 1)  # daemon:daemon
            write(root, "/usr/share/booking/added.txt", "new\n")
            for i in range(40):
                write(root, f"/usr/share/booking/static/asset{i:02}.css", f"a{i}\n")
        else:
            write(root, "/usr/share/booking/removed.txt", "old\n")
        os.symlink("booking-2" if extra else "booking", os.path.join(root, "usr/bin/bookingctl"))
        debian = os.path.join(root, "DEBIAN")
        write(debian, "control", textwrap.dedent(f"""\
            Package: booking
            Version: {version}
            Architecture: amd64
            Maintainer: Booking Team <booking@example.org>
            Depends: {depends}
            Description: room booking service
             Books rooms.
            """))
        write(debian, "conffiles", CONF_PATH + "\n")
        write(debian, "postinst", postinst, 0o755)
        embedded = {"format": "shipshape.manifest/1", "package": "booking", "version": version,
                    "requirements": {"path": "requirements.toml",
                                     "text": f'[resources]\nmemory = "{memory}"\n'}}
        write(debian, "shipshape-manifest.json", json.dumps(embedded))
        deb = os.path.join(self.tmp, f"booking_{version}_amd64.deb")
        subprocess.run(["dpkg-deb", "-Zzstd", "--build", root, deb], check=True,
                       capture_output=True)
        return deb

    def diff(self, *args):
        return self.shipshape("package", "diff", *args, cwd=self.tmp)

    def test_text_names_every_change_the_contract_lists(self):
        r = self.diff(self.v1, self.v2, "--full")
        self.assertEqual(r.code, 1, r)
        out = r.out
        # Summary first, with the version change.
        self.assertTrue(out.startswith("package diff: booking 1.0 → 1.1 (amd64)"), out)
        sections = ["Dependencies", "Requirements", "Maintainer scripts", "Conffiles", "Files",
                    "Size"]
        positions = [out.index("\n" + s + "\n") for s in sections]
        self.assertEqual(positions, sorted(positions), "sections out of order:\n" + out)
        # Each changed dependency, the requirement, the script and the conffile, by name.
        self.assertIn("Depends: libssl3 (>= 3.0) → libssl3 (>= 3.1)", out)
        self.assertIn("memory available: ≥ 2.0 GiB → ≥ 4.0 GiB", out)
        self.assertIn("  postinst changed", out)
        self.assertIn("+systemctl restart booking || true", out)
        self.assertIn(f"  {CONF_PATH} changed", out)
        self.assertIn("-workers = 4", out)
        self.assertIn("+workers = 8", out)
        # Every added and removed path.
        added = ["/usr/share/booking/added.txt", "/usr/share/booking/static"] + [
            f"/usr/share/booking/static/asset{i:02}.css" for i in range(40)]
        for path in added:
            self.assertIn(f"+ {path}  (", out)
        self.assertIn("- /usr/share/booking/removed.txt  (", out)
        # Changed files: same-size content, a replaced binary, mode, owner, symlink target.
        self.assertRegex(out, r"~ /usr/share/booking/same-size.txt  content \w+ → \w+, "
                              r"4 B → 4 B \(same size\)")
        self.assertIn("~ /usr/bin/booking  content", out)
        self.assertIn("~ /usr/share/booking/mode.txt  mode 0644 → 0600", out)
        self.assertIn("~ /var/lib/booking/state  owner root:root → daemon:daemon", out)
        self.assertIn("~ /usr/bin/bookingctl  target booking → booking-2", out)
        self.assertNotIn("unchanged.txt", out)

    def test_long_lists_fold_by_directory_and_still_name_each_path(self):
        r = self.diff(self.v1, self.v2)
        self.assertEqual(r.code, 1, r)
        # 42 added entries: folded, the new directory named with its count.
        self.assertIn("+ /usr/share/booking/static/ (41 entries, ", r.out)
        self.assertIn("+ /usr/share/booking/added.txt  (file", r.out)
        self.assertNotIn("asset07.css", r.out)
        self.assertLess(len(r.out.splitlines()), 80, r.out)

    def test_stat_prints_only_the_summary(self):
        r = self.diff(self.v1, self.v2, "--stat")
        self.assertEqual(r.code, 1, r)
        self.assertIn("scripts       postinst changed", r.out)
        self.assertIn("files         42 added, 1 removed, 6 changed", r.out)
        self.assertNotIn("Dependencies", r.out)
        self.assertNotIn("@@", r.out)

    def test_json_has_the_contract_keys(self):
        r = self.shipshape("--json", "package", "diff", self.v1, self.v2, cwd=self.tmp)
        self.assertEqual(r.code, 1, r)
        doc = r.json()
        for key in ("a", "b", "summary", "depends", "requirements", "scripts", "conffiles",
                    "files", "size"):
            self.assertIn(key, doc)
        self.assertEqual(sorted(doc["files"]), ["added", "changed", "removed"])
        self.assertEqual([d["name"] for d in doc["depends"]], ["libssl3"])
        self.assertEqual(doc["depends"][0]["after"], "libssl3 (>= 3.1)")
        self.assertEqual([s["name"] for s in doc["scripts"]], ["postinst"])
        self.assertEqual([c["path"] for c in doc["conffiles"]], [CONF_PATH])
        self.assertEqual(doc["requirements"]["changes"][0]["kind"], "memory")
        self.assertIn("/usr/share/booking/removed.txt",
                      [e["path"] for e in doc["files"]["removed"]])
        changed = {c["path"]: c["changes"] for c in doc["files"]["changed"]}
        self.assertEqual(changed["/usr/share/booking/same-size.txt"], ["content"])
        self.assertEqual(changed["/usr/bin/bookingctl"], ["target"])
        self.assertEqual(changed["/var/lib/booking/state"], ["owner"])
        self.assertTrue(doc["summary"]["different"])
        self.assertEqual(doc["b"]["version"], "1.1")

    def test_the_same_package_exits_0(self):
        r = self.diff(self.v1, self.v1)
        self.assertEqual(r.code, 0, r)
        self.assertIn("no differences", r.out)
        # Manifest files (docs/specs/manifest.md) are sides too.
        a = self.manifest("a.manifest.json", "1.0", "port = 80\n")
        self.assertEqual(self.diff(a, a).code, 0)
        b = self.manifest("b.manifest.json", "1.0", "port = 81\n")
        r = self.diff(a, b)
        self.assertEqual(r.code, 1, r)
        self.assertIn("  /etc/x.conf changed", r.out)
        self.assertIn("+port = 81", r.out)

    def manifest(self, name, version, conf):
        sha = hashlib.sha256(conf.encode()).hexdigest()
        doc = {"format": "shipshape.manifest/1", "package": "x", "version": version,
               "architecture": "all",
               "control": [["Package", "x"], ["Version", version], ["Architecture", "all"]],
               "depends": [], "relations": {}, "scripts": {}, "script_sha256": {},
               "conffiles": [{"path": "/etc/x.conf", "sha256": sha, "size": len(conf),
                              "content": conf}],
               "files": [{"path": "/etc", "type": "directory", "mode": "0755", "owner": "root",
                          "group": "root"},
                         {"path": "/etc/x.conf", "type": "file", "size": len(conf),
                          "sha256": sha, "mode": "0644", "owner": "root", "group": "root"}],
               "requirements": None, "unsafe": []}
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def test_bad_input_exits_2_and_names_it(self):
        corrupt = os.path.join(self.tmp, "corrupt.deb")
        with open(self.v1, "rb") as f:
            data = f.read()
        with open(corrupt, "wb") as f:
            f.write(data[: len(data) // 2])
        for args, words in [
            ((corrupt, self.v2), "corrupt.deb"),
            ((self.v1, os.path.join(self.tmp, "missing.deb")), "missing.deb"),
            ((self.v1, os.path.join(self.tmp, "ops", "inventory.toml")), "inventory.toml"),
        ]:
            r = self.diff(*args)
            self.assertEqual(r.code, 2, r)
            self.assertIn(words, r.err)
            self.assertEqual(r.out, "")
