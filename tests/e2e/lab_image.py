"""A test image made by hand in the layout of src/image/image.hpp, for `image run` and `lab`
tests, from the offline Debian packages in /var/cache/shipshape/debs (never the network).

The package base (mmdebstrap, ~15 s) is made once per package set and kept under
/var/tmp/shipshape-test-rootfs/<key>/rootfs; each test's images directory points at it (its
bases/<key>/rootfs is a symlink), so tests share it read-only, as overlay lower layers.

    image = make_image(images_dir, "labimg")   # -> {"id", "name", "rootfs"}
Raises Unsupported when the debs, mmdebstrap or root are missing."""
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

DEBS = "/var/cache/shipshape/debs"
CACHE = "/var/tmp/shipshape-test-rootfs"
# openssh-server for the lab's sshd and the shared libraries of the shipshape agent: the list
# scripts/install-deps.sh downloads the offline .debs for and `image build` installs for lab = true.
LAB_PACKAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging",
                            "lab-packages.txt")
with open(LAB_PACKAGES) as _f:
    PACKAGES = [line.split("#")[0].strip() for line in _f
                if line.split("#")[0].strip()]


class Unsupported(Exception):
    pass


def _key():
    h = hashlib.sha256()
    h.update(" ".join(PACKAGES).encode())
    for name in sorted(os.listdir(DEBS)):
        h.update(name.encode() + b"\n")
    return h.hexdigest()


def base_rootfs():
    """The cached package base's rootfs, made when missing (one maker at a time)."""
    if os.geteuid() != 0:
        raise Unsupported("building a test image needs root (mmdebstrap --mode=root)")
    for tool in ("mmdebstrap", "dpkg-scanpackages", "apt-ftparchive"):
        if not shutil.which(tool):
            raise Unsupported(f"building a test image needs {tool}")
    if not os.path.isdir(DEBS) or not any(n.startswith("openssh-server_") for n in os.listdir(DEBS)):
        raise Unsupported(f"no offline .debs with openssh-server in {DEBS} (scripts/install-deps.sh)")
    key = _key()
    final = os.path.join(CACHE, key, "rootfs")
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(final):
            return key, final
        work = tempfile.mkdtemp(prefix="make-", dir=CACHE)
        try:
            repo = os.path.join(work, "repo")
            os.makedirs(repo)
            for n in os.listdir(DEBS):
                if n.endswith(".deb"):
                    os.symlink(os.path.join(DEBS, n), os.path.join(repo, n))
            with open(os.path.join(repo, "Packages"), "w") as f:
                subprocess.run(["dpkg-scanpackages", "-m", "."], cwd=repo, stdout=f,
                               stderr=subprocess.DEVNULL, check=True)
            rel = subprocess.run(["apt-ftparchive", "-o", "APT::FTPArchive::Release::Suite=bookworm",
                                  "-o", "APT::FTPArchive::Release::Codename=bookworm", "release", "."],
                                 cwd=repo, capture_output=True, text=True, check=True)
            with open(os.path.join(repo, "Release"), "w") as f:
                f.write(rel.stdout)
            rootfs = os.path.join(work, "rootfs")
            r = subprocess.run(["mmdebstrap", "--variant=essential", "--mode=root",
                                "--skip=check/signed-by", "--include=" + ",".join(PACKAGES),
                                "bookworm", rootfs, f"deb [trusted=yes] copy://{repo} ./"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"mmdebstrap failed:\n{r.stderr[-3000:]}")
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.rename(rootfs, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return key, final


def make_image(images_dir, name, limits=None):
    """Registers an image named `name` (an empty layer over the cached base) in images_dir."""
    key, rootfs = base_rootfs()
    base = os.path.join(images_dir, "bases", key)
    os.makedirs(base, exist_ok=True)
    if not os.path.lexists(os.path.join(base, "rootfs")):
        os.symlink(rootfs, os.path.join(base, "rootfs"))
    image_id = hashlib.sha256(f"{name}:{key}".encode()).hexdigest()
    d = os.path.join(images_dir, image_id)
    os.makedirs(os.path.join(d, "layer"), exist_ok=True)
    record = {"format": 1, "id": image_id, "name": name, "created": "2026-12-07T00:00:00Z",
              "parent": key, "spec": "", "spec_sha256": "", "snapshot": "", "release": "bookworm",
              "architecture": "amd64", "roles": [], "limits": limits or {}, "files": 0,
              "bytes": 0, "packages": []}
    with open(os.path.join(d, "image.json"), "w") as f:
        json.dump(record, f)
    os.makedirs(os.path.join(images_dir, "names"), exist_ok=True)
    with open(os.path.join(images_dir, "names", name), "w") as f:
        f.write(image_id)
    return {"id": image_id, "name": name, "rootfs": rootfs, "dir": d}
