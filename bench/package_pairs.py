#!/usr/bin/env python3
"""Package pairs for bench/package.sh: two versions of a package whose differences are known.

Usage: package_pairs.py WORK_DIR LABEL ENTRIES

Writes, under WORK_DIR/LABEL:
  v1/root, v2/root       the two package trees (DEBIAN/ plus the payload), owned by root but for
                         the one file whose owner v2 changes (this needs root);
  v1.zstd.deb, v2.zstd.deb, v1.xz.deb, v2.xz.deb
                         built with `dpkg-deb --build -Zzstd|-Zxz` from those trees;
  expected.json          every change v2 makes, each with the tokens a tool's output must hold
                         on one line for the change to count as reported (see bench/package.sh);
  spec.toml              a `shipshape package build` spec of the v1 tree (the build comparison);
  stamp                  the generator's hash and the arguments: a later run with the same
                         stamp reuses the pair instead of building it again.

Both versions get the same mtimes (SOURCE_DATE_EPOCH), as reproducible builds do, so that a tool
listing the payload sees only the real differences. The content is deterministic (seeded).
Standard library only.
"""

import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys

EPOCH = 1765000000  # 2025-12-06: every mtime of both versions
NAME = "booking"
VERSIONS = ("1.4.2", "1.4.3")
FILES_PER_DIR = 50
# ELF binaries copied from the host for realism (coreutils: present on every Debian).
BINARIES = ("cp", "mv", "date", "sort", "stat", "ls")
WORDS = ("booking room guest night price season tariff invoice payment refund cancel "
         "arrival departure breakfast suite double single view floor wing lobby desk "
         "reservation availability calendar channel partner commission currency tax "
         "template email notice reminder policy deposit balance report export").split()
CONF_V1 = """# /etc/booking/booking.conf: the booking service's settings
listen = 127.0.0.1:8080
workers = 4
database = /var/lib/booking/booking.db
log_level = info
"""
CONF_V2 = CONF_V1.replace("workers = 4", "workers = 8")
POSTINST_V1 = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    install -d -m 0750 /var/lib/booking
fi
exit 0
"""
POSTINST_LINE = "install -d -m 0750 /var/lib/booking/spool-v2"
POSTINST_V2 = POSTINST_V1.replace("fi\n", f"    {POSTINST_LINE}\nfi\n", 1)
PRERM = "#!/bin/sh\nset -e\nexit 0\n"
DEPENDS = ("libc6 (>= 2.36), adduser, python3 (>= 3.9), ca-certificates",
           "libc6 (>= 2.36), adduser, python3 (>= 3.11), ca-certificates")


# One word in eight ends a line.
VOCABULARY = WORDS * 7 + [w + ".\n" for w in WORDS]


def text(rng, size):
    """size bytes of lines of random words (compresses about like source code and templates)."""
    return " ".join(rng.choices(VOCABULARY, k=size // 6 + 8)).encode()[:size]


def same_size_change(data):
    """The same bytes but a few in the middle: same size, another sha256."""
    mid = len(data) // 2
    changed = bytes(b ^ 0x20 if 0x61 <= b <= 0x7a else b for b in data[mid:mid + 8])
    assert changed != data[mid:mid + 8]
    return data[:mid] + changed + data[mid + 8:]


class Tree:
    """The payload of one version as path -> (kind, data/target, mode, owner)."""

    def __init__(self):
        self.entries = {}

    def file(self, path, data, mode=0o644, owner="root"):
        self.entries[path] = ("file", data, mode, owner)

    def link(self, path, target):
        self.entries[path] = ("symlink", target, 0o777, "root")

    def dirs(self):
        out = set()
        for path in self.entries:
            parts = path.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                out.add("/" + "/".join(parts[:i]))
        return out


def make_v1(rng, entries):
    t = Tree()
    share = f"/usr/share/{NAME}"
    for b in BINARIES[:-1]:
        t.file(f"/usr/lib/{NAME}/bin/{b}", open(f"/usr/bin/{b}", "rb").read(), 0o755)
    t.file(f"/usr/bin/{NAME}", open("/usr/bin/ls", "rb").read(), 0o755)
    t.file(f"/usr/lib/{NAME}/bin/{NAME}-admin", open("/usr/bin/ls", "rb").read(), 0o755)
    t.file(f"/etc/{NAME}/{NAME}.conf", CONF_V1.encode())
    t.file(f"/var/lib/{NAME}/cache.db", text(rng, 4096), 0o640)
    t.file(f"/usr/share/doc/{NAME}/copyright", b"Copyright: the shipshape benchmark\n")
    t.link(f"/usr/lib/{NAME}/default-theme", "themes/classic")
    # The bulk: text files in nested directories (group/shelf/fNNNNN.txt), 2% symlinks.
    # About one directory per FILES_PER_DIR files, so `entries` counts files, links and dirs.
    n_links = entries // 50
    n_files = entries - n_links - len(t.entries) - entries // FILES_PER_DIR - 12
    for i in range(n_files):
        d = i // FILES_PER_DIR
        # Median 4 KiB, mean ~8 KiB, a few files of several hundred KiB: 20,000 entries make
        # a ~160 MB payload, which takes xz ~1.5 s to decompress here (as in issue #16).
        size = min(int(rng.lognormvariate(8.3, 1.2)), 2 << 20)
        t.file(f"{share}/data/g{d // 10:03d}/s{d % 10}/f{i:06d}.txt", text(rng, max(size, 16)))
    data_paths = sorted(p for p in t.entries if p.startswith(f"{share}/data/"))
    for i in range(n_links):
        target = rng.choice(data_paths)
        t.link(f"{share}/links/l{i:05d}", "../" + target[len(share) + 1:])
    return t


def make_v2(rng, v1):
    """v2 and the list of changes, each {category, what, tokens}."""
    t = Tree()
    t.entries = dict(v1.entries)
    changes = []
    share = f"/usr/share/{NAME}"
    data = sorted(p for p in t.entries if p.startswith(f"{share}/data/"))
    picked = rng.sample(data, 5 + 5 + 8 + 2)
    resized, same, removed, moded = picked[:5], picked[5:10], picked[10:18], picked[18:]

    def change(category, what, *tokens):
        changes.append({"category": category, "what": what, "tokens": list(tokens)})

    for p in resized:
        kind, old, mode, owner = t.entries[p]
        t.file(p, old + text(rng, 200), mode, owner)
        change("content", f"{p}: content and size", p)
    for p in same:
        kind, old, mode, owner = t.entries[p]
        t.file(p, same_size_change(old), mode, owner)
        change("same-size content", f"{p}: same size, new sha256", p)
    for p in moded:
        kind, old, mode, owner = t.entries[p]
        t.file(p, old, 0o755, owner)
        change("mode", f"{p}: 0644 -> 0755", p)
    p = f"/usr/lib/{NAME}/bin/cp"
    t.file(p, t.entries[p][1], 0o750)
    change("mode", f"{p}: 0755 -> 0750", p)
    p = f"/var/lib/{NAME}/cache.db"
    t.file(p, t.entries[p][1], 0o640, "daemon")
    change("owner", f"{p}: root:root -> daemon:daemon", p)
    p = f"/usr/bin/{NAME}"
    t.file(p, open("/usr/bin/mv", "rb").read(), 0o755)
    change("replaced binary", f"{p}: another ELF binary (ls -> mv, new size)", p)
    p = f"/usr/lib/{NAME}/bin/{NAME}-admin"
    t.file(p, open("/usr/bin/dir", "rb").read(), 0o755)
    change("replaced binary", f"{p}: another ELF binary of the same size (ls -> dir)", p)
    for p in removed:
        del t.entries[p]
        change("removed", f"{p}: removed", p)
    for i in range(4):
        p = f"{share}/plugins/p{i}.txt"
        t.file(p, text(rng, 900))
        change("added", f"{p}: added (new directory)", p)
    for i in range(4):
        p = os.path.dirname(rng.choice(data)) + f"/new{i}.txt"
        t.file(p, text(rng, 1200))
        change("added", f"{p}: added", p)
    p = f"/usr/lib/{NAME}/default-theme"
    t.link(p, "themes/modern")
    change("symlink", f"{p}: themes/classic -> themes/modern", p)
    p = f"/etc/{NAME}/{NAME}.conf"
    t.file(p, CONF_V2.encode())
    change("conffile", f"{p}: the conffile is named", p)
    change("conffile content", f"{p}: the changed line 'workers = 8'", "workers = 8")
    change("postinst", "postinst: the added line", POSTINST_LINE)
    change("depends", "Depends: python3 (>= 3.9) -> python3 (>= 3.11)", "python3", "3.11")
    return t, changes


def write_tree(tree, root, version, depends, postinst):
    if os.path.exists(root):
        shutil.rmtree(root)
    for d in sorted(tree.dirs()):
        os.makedirs(root + d, exist_ok=True)
    md5 = []
    for path, (kind, payload, mode, owner) in sorted(tree.entries.items()):
        full = root + path
        if kind == "file":
            with open(full, "wb") as f:
                f.write(payload)
            os.chmod(full, mode)
            if owner != "root":
                os.chown(full, 1, 1)  # daemon:daemon on Debian
            if not path.startswith("/etc/"):
                md5.append(f"{hashlib.md5(payload).hexdigest()}  {path[1:]}\n")
        else:
            os.symlink(payload, full)
    debian = root + "/DEBIAN"
    os.makedirs(debian)
    size_kib = sum(len(e[1]) for e in tree.entries.values() if e[0] == "file") // 1024
    control = (f"Package: {NAME}\nVersion: {version}\nArchitecture: amd64\n"
               f"Maintainer: Shipshape Bench <bench@example.org>\nInstalled-Size: {size_kib}\n"
               f"Depends: {depends}\nSection: misc\nPriority: optional\n"
               f"Description: booking service (shipshape benchmark package)\n"
               f" Generated by bench/package_pairs.py.\n")
    for name, body, mode in (("control", control, 0o644), ("md5sums", "".join(md5), 0o644),
                             ("conffiles", f"/etc/{NAME}/{NAME}.conf\n", 0o644),
                             ("postinst", postinst, 0o755), ("prerm", PRERM, 0o755)):
        with open(f"{debian}/{name}", "w") as f:
            f.write(body)
        os.chmod(f"{debian}/{name}", mode)
    # Same mtimes in both versions (directories last: writing into them moves theirs).
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for n in filenames:
            os.utime(os.path.join(dirpath, n), (EPOCH, EPOCH), follow_symlinks=False)
        os.utime(dirpath, (EPOCH, EPOCH))


def build_debs(pair_dir):
    """The four .debs, two dpkg-deb at a time (xz at its default level takes a minute or two
    for the 20,000-entry trees; dpkg-deb compresses on one thread)."""
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH))
    jobs = [(v, comp) for comp in ("xz", "zstd") for v in ("v1", "v2")]
    running = []
    for v, comp in jobs:
        out = f"{pair_dir}/{v}.{comp}.deb"
        running.append(subprocess.Popen(
            ["dpkg-deb", "--build", f"-Z{comp}", f"{pair_dir}/{v}/root", out],
            env=env, stdout=subprocess.DEVNULL))
        if len(running) == 2:
            if running.pop(0).wait() != 0:
                sys.exit("package_pairs.py: dpkg-deb --build failed")
    for proc in running:
        if proc.wait() != 0:
            sys.exit("package_pairs.py: dpkg-deb --build failed")


def write_spec(pair_dir):
    """A `shipshape package build` spec for the v1 tree (docs/specs/package-spec.md): each top
    directory of the tree copied to the same place in the package, DEBIAN/ left out."""
    with open(f"{pair_dir}/spec.toml", "w") as f:
        f.write(f'''# The v1 tree of this pair as a shipshape package spec (bench/package.sh, build comparison).
name = "{NAME}"
version = "{VERSIONS[0]}"
architecture = "amd64"
maintainer = "Shipshape Bench <bench@example.org>"
description = "booking service (shipshape benchmark package)"
depends = [{", ".join(json.dumps(d.strip()) for d in DEPENDS[0].split(","))}]
conffiles = ["/etc/{NAME}/{NAME}.conf"]

[[files]]
source = "v1/root/usr"
destination = "usr"

[[files]]
source = "v1/root/etc"
destination = "etc"

[[files]]
source = "v1/root/var"
destination = "var"

[scripts]
postinst = {{ file = "v1/root/DEBIAN/postinst" }}
prerm = {{ file = "v1/root/DEBIAN/prerm" }}
''')


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: package_pairs.py WORK_DIR LABEL ENTRIES")
    work, label, entries = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if os.geteuid() != 0:
        sys.exit("package_pairs.py: needs root (v2 changes a file's owner to daemon)")
    pair_dir = os.path.join(work, label)
    me = open(__file__, "rb").read()
    stamp = f"{hashlib.sha256(me).hexdigest()} {entries}\n"
    if os.path.exists(f"{pair_dir}/stamp") and open(f"{pair_dir}/stamp").read() == stamp:
        print(f"package_pairs: {pair_dir} is up to date", file=sys.stderr)
        return
    if os.path.exists(pair_dir):
        shutil.rmtree(pair_dir)
    os.makedirs(pair_dir)
    rng = random.Random(f"shipshape-bench-{entries}")
    v1 = make_v1(rng, entries)
    v2, changes = make_v2(rng, v1)
    for label_v, tree, version, depends, postinst in (
            ("v1", v1, VERSIONS[0], DEPENDS[0], POSTINST_V1),
            ("v2", v2, VERSIONS[1], DEPENDS[1], POSTINST_V2)):
        write_tree(tree, f"{pair_dir}/{label_v}/root", version, depends, postinst)
    build_debs(pair_dir)
    count = len(v1.entries) + len(v1.dirs())
    with open(f"{pair_dir}/expected.json", "w") as f:
        json.dump({"pair": label, "entries_v1": count,
                   "entries_v2": len(v2.entries) + len(v2.dirs()), "changes": changes},
                  f, indent=2)
        f.write("\n")
    write_spec(pair_dir)
    with open(f"{pair_dir}/stamp", "w") as f:
        f.write(stamp)
    print(f"package_pairs: {pair_dir}: {count} entries, {len(changes)} changes",
          file=sys.stderr)


if __name__ == "__main__":
    main()
