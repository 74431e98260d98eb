"""`shipshape package inspect` against real Debian archives built by dpkg-deb (every compression),
hand-crafted evil archives (../x, /abs, escaping symlink and hard link), and truncated or foreign
files. The manifest is checked against `dpkg-deb --contents` and sha256sum of the extracted
files."""
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile

from harness import RepoTestCase, require


def ar_archive(members):
    """A common-format ar archive of (name, bytes): the test's own writer for evil packages."""
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members:
        header = (name.encode().ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) +
                  b"100644".ljust(8) + str(len(data)).encode().ljust(10) + b"`\n")
        assert len(header) == 60
        out.write(header)
        out.write(data)
        if len(data) % 2:
            out.write(b"\n")
    return out.getvalue()


def tar_bytes(entries, mode="w:gz"):
    """entries: (name, kind, data_or_target). kind: file, dir, symlink, hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.GNU_FORMAT) as t:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.uname = info.gname = "root"
            info.mtime = 1700000000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, payload, 0o777
                t.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname, info.mode = tarfile.LNKTYPE, payload, 0o644
                t.addfile(info)
            else:
                info.size, info.mode = len(payload), 0o644
                t.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


CONTROL = b"Package: evil\nVersion: 1\nArchitecture: all\nMaintainer: x <x@y>\nDescription: x\n"


class PackageInspectTest(RepoTestCase):
    def setUp(self):
        super().setUp()
        require(self, shutil.which("dpkg-deb") is not None, "dpkg-deb (Debian package dpkg)")
        self.pkgroot = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(self.pkgroot, "DEBIAN"))
        self.put("DEBIAN/control", "Package: booking\nVersion: 1:1.4.3-1\nArchitecture: all\n"
                 "Maintainer: Booking Team <booking@example.org>\n"
                 "Depends: libc6 (>= 2.36), adduser | passwd\n"
                 "Description: room booking service\n Books rooms.\n")
        self.put("DEBIAN/conffiles", "/etc/booking/booking.conf\n")
        self.put("DEBIAN/postinst", "#!/bin/sh\nset -e\necho configured\n", 0o755)
        self.put("DEBIAN/prerm", "#!/bin/sh\nexit 0\n", 0o755)
        self.put("etc/booking/booking.conf", "port = 8080\nworkers = 4\n")
        self.put("usr/bin/booking", "#!/bin/sh\necho booking\n", 0o4755)
        for i in range(60):
            self.put(f"usr/share/booking/data/{i:03}.txt", f"line {i}\n" * i)
        os.symlink("booking", os.path.join(self.pkgroot, "usr/bin/bookingctl"))
        os.link(os.path.join(self.pkgroot, "usr/share/booking/data/007.txt"),
                os.path.join(self.pkgroot, "usr/share/booking/data/007-again.txt"))

    def put(self, rel, text, mode=0o644):
        path = os.path.join(self.pkgroot, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def build(self, compression):
        out = os.path.join(self.tmp, f"booking-{compression}.deb")
        subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build",
                        self.pkgroot, out], check=True, capture_output=True)
        return out

    def inspect_json(self, path):
        r = self.shipshape("--json", "package", "inspect", path)
        self.assertEqual(r.code, 0, r)
        return r.json()

    def test_every_compression_matches_dpkg(self):
        extracted = os.path.join(self.tmp, "x")
        first = None
        for compression in ("zstd", "xz", "gzip", "none"):
            with self.subTest(compression=compression):
                deb = self.build(compression)
                doc = self.inspect_json(deb)
                if first is None:
                    first = doc
                else:
                    self.assertEqual(doc, first)
        # Every member dpkg-deb lists, with its type, mode, owner and link target.
        contents = subprocess.run(["dpkg-deb", "--contents", deb], check=True,
                                  capture_output=True, text=True).stdout
        listed = {}
        for line in contents.splitlines():
            perms, owner, _size, _date, _time, rest = line.split(None, 5)
            name = rest.split(" -> ")[0].split(" link to ")[0]
            if name == "./":
                continue
            listed["/" + name.rstrip("/").removeprefix("./")] = (perms, owner)
        by_path = {f["path"]: f for f in first["files"]}
        self.assertEqual(set(by_path), set(listed))
        for path, (perms, owner) in listed.items():
            f = by_path[path]
            self.assertEqual(owner, f"{f['owner']}/{f['group']}", path)
            mode = int(f["mode"], 8)
            self.assertEqual(stat.filemode(mode)[1:], perms[1:], path)
        self.assertEqual(by_path["/usr/bin/bookingctl"]["type"], "symlink")
        self.assertEqual(by_path["/usr/bin/bookingctl"]["target"], "booking")
        self.assertEqual(by_path["/usr/bin/booking"]["mode"], "4755")
        links = [f for f in first["files"] if f["type"] == "hardlink"]
        self.assertEqual(len(links), 1)
        self.assertIn(links[0]["target"], by_path)
        # Every file's sha256 and size, from the files dpkg-deb extracts.
        subprocess.run(["dpkg-deb", "--extract", deb, extracted], check=True)
        for f in first["files"]:
            if f["type"] != "file":
                continue
            with open(extracted + f["path"], "rb") as data:
                content = data.read()
            self.assertEqual(f["sha256"], hashlib.sha256(content).hexdigest(), f["path"])
            self.assertEqual(f["size"], len(content), f["path"])
        # Control, relations, scripts, conffiles.
        self.assertEqual(first["package"], "booking")
        self.assertEqual(first["version"], "1:1.4.3-1")
        self.assertEqual(first["depends"], ["libc6 (>= 2.36)", "adduser | passwd"])
        self.assertEqual(first["scripts"]["postinst"], "#!/bin/sh\nset -e\necho configured\n")
        self.assertEqual(sorted(first["scripts"]), ["postinst", "prerm"])
        self.assertEqual(first["conffiles"], [{
            "path": "/etc/booking/booking.conf", "size": 24,
            "sha256": hashlib.sha256(b"port = 8080\nworkers = 4\n").hexdigest(),
            "content": "port = 8080\nworkers = 4\n"}])
        self.assertEqual(first["unsafe"], [])

    def test_text_summary_folds_long_lists(self):
        deb = self.build("zstd")
        r = self.shipshape("package", "inspect", deb)
        self.assertEqual(r.code, 0, r)
        for expected in ("booking 1:1.4.3-1 (all)", "Depends:", "adduser | passwd",
                         "postinst", "/etc/booking/booking.conf",
                         "-rwsr-xr-x root/root", "/usr/bin/bookingctl -> booking",
                         "more (--full shows all)"):
            self.assertIn(expected, r.out)
        full = self.shipshape("package", "inspect", "--full", deb)
        self.assertEqual(full.code, 0, full)
        self.assertNotIn("more (--full shows all)", full.out)
        self.assertIn("/usr/share/booking/data/059.txt", full.out)
        self.assertIn("echo configured", full.out)

    def test_manifest_file_is_inspected_too(self):
        deb = self.build("xz")
        doc = self.inspect_json(deb)
        manifest = os.path.join(self.tmp, "booking.manifest.json")
        with open(manifest, "w") as f:
            json.dump(doc, f)
        self.assertEqual(self.inspect_json(manifest), doc)

    def evil(self, data_entries):
        path = os.path.join(self.tmp, "evil.deb")
        with open(path, "wb") as f:
            f.write(ar_archive([
                ("debian-binary", b"2.0\n"),
                ("control.tar.gz", tar_bytes([("./control", "file", CONTROL)])),
                ("data.tar.xz", tar_bytes(data_entries, "w:xz")),
            ]))
        return path

    def test_unsafe_members_exit_1_and_are_named(self):
        deb = self.evil([
            ("./", "dir", None),
            ("./usr/bin/ok", "file", b"fine\n"),
            ("../x", "file", b"escape\n"),
            ("/abs", "file", b"absolute\n"),
            ("./usr/lib/escape", "symlink", "../../../etc/shadow"),
            ("./usr/lib/hard", "hardlink", "../../etc/passwd"),
        ])
        r = self.shipshape("package", "inspect", deb)
        self.assertEqual(r.code, 1, r)
        for member in ("../x", "/abs", "./usr/lib/escape", "./usr/lib/hard"):
            self.assertIn(f"unsafe member '{member}'", r.err)
            self.assertIn(member, r.out)
        j = self.shipshape("--json", "package", "inspect", deb)
        self.assertEqual(j.code, 1, j)
        doc = j.json()
        self.assertEqual([u["member"] for u in doc["unsafe"]],
                         ["../x", "/abs", "./usr/lib/escape", "./usr/lib/hard"])
        self.assertEqual(doc["unsafe"][0]["reason"], "'..' in the path")
        self.assertEqual(doc["unsafe"][1]["reason"], "absolute path")
        self.assertEqual([f["path"] for f in doc["files"]], ["/usr", "/usr/bin", "/usr/bin/ok"]
                         if any(f["path"] == "/usr" for f in doc["files"]) else ["/usr/bin/ok"])

    def test_corrupt_truncated_and_foreign_files_exit_2(self):
        deb = self.build("xz")
        with open(deb, "rb") as f:
            good = f.read()
        cases = {
            "truncated.deb": (good[: len(good) - 300], "data.tar.xz: truncated"),
            "text.deb": (b"just some text\n", "not a Debian package"),
            "other.ar": (ar_archive([("hello.txt", b"hi\n")]),
                         "the first member is 'hello.txt', not 'debian-binary'"),
            "nodata.deb": (ar_archive([("debian-binary", b"2.0\n"),
                                       ("control.tar.gz",
                                        tar_bytes([("./control", "file", CONTROL)]))]),
                           "no data.tar member"),
        }
        for name, (data, message) in cases.items():
            with self.subTest(name=name):
                path = os.path.join(self.tmp, name)
                with open(path, "wb") as f:
                    f.write(data)
                r = self.shipshape("package", "inspect", path)
                self.assertEqual(r.code, 2, r)
                self.assertIn(message, r.err)
                self.assertEqual(r.out, "")
                j = self.shipshape("--json", "package", "inspect", path)
                self.assertEqual(j.code, 2, j)
                self.assertIn(message, j.json()["error"]["message"])
        missing = self.shipshape("package", "inspect", os.path.join(self.tmp, "absent.deb"))
        self.assertEqual(missing.code, 2, missing)
