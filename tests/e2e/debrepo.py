"""Offline Debian repositories for the image and lab tests, from the genuine .debs that
scripts/install-deps.sh downloads to /var/cache/shipshape/debs (SHIPSHAPE_DEBS_DIR overrides):
Debian's essential set, openssh-server and the agent's libraries, with their dependencies.
Tests never download: without those .debs (or dpkg-scanpackages, apt-ftparchive) they report
unsupported with unavailable()'s reason.

    reason = debrepo.unavailable()              # None when everything is there
    line = debrepo.make_repo(tmp + "/repo", extra_debs=[debrepo.make_deb(tmp, "hello", "2.0")])
    debrepo.write_spec(path, "mini", line, packages={"hello": "2.0"})

make_repo's line is `deb [trusted=yes] copy:///DIR ./`: a flat repository whose Release names
the suite and codename bookworm (mmdebstrap finds the essential set through them), read with
copy:// (file:// fails mmdebstrap's chroot path check). The spec format is image.hpp's Spec
(docs/specs/image-format.md)."""
import glob
import os
import shutil
import subprocess

DEBS_DIR = os.environ.get("SHIPSHAPE_DEBS_DIR", "/var/cache/shipshape/debs")


def unavailable():
    """Why no offline repository can be made here, or None."""
    if not os.path.isdir(DEBS_DIR) or not glob.glob(os.path.join(DEBS_DIR, "*.deb")):
        return (f"no offline Debian packages in {DEBS_DIR}: run 'scripts/install-deps.sh test' "
                "(it downloads them once)")
    for tool, package in (("dpkg-scanpackages", "dpkg-dev"), ("apt-ftparchive", "apt-utils"),
                          ("dpkg-deb", "dpkg")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian package {package}; scripts/install-deps.sh test)"
    return None


def deb_fields(path):
    """(Package, Version, Architecture) of a .deb."""
    out = subprocess.run(["dpkg-deb", "-f", path, "Package", "Version", "Architecture"],
                         capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return fields["Package"], fields["Version"], fields["Architecture"]


def versions(debs_dir=None):
    """{package: version} of the offline .debs (the newest when a package has several)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(debs_dir or DEBS_DIR, "*.deb"))):
        name, version, _ = deb_fields(path)
        out[name] = version
    return out


def make_deb(out_dir, name, version, arch="all", files=None, depends=""):
    """Builds a small .deb with dpkg-deb: `files` maps absolute paths to contents. Returns its
    path. For planting a package change: a second version of a package, or a new package."""
    root = os.path.join(out_dir, f"{name}_{version}.build")
    os.makedirs(os.path.join(root, "DEBIAN"), exist_ok=True)
    control = (f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
               f"Maintainer: shipshape tests <tests@example.org>\nSection: misc\n"
               f"Priority: optional\nDescription: a package made by the shipshape tests\n")
    if depends:
        control += f"Depends: {depends}\n"
    with open(os.path.join(root, "DEBIAN", "control"), "w") as f:
        f.write(control)
    for path, content in (files or {f"/usr/share/doc/{name}/VERSION": version + "\n"}).items():
        full = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content)
    deb = os.path.join(out_dir, f"{name}_{version.replace(':', '%3a')}_{arch}.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, deb],
                   check=True, capture_output=True)
    shutil.rmtree(root)
    return deb


def _place(src, dest):
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def make_repo(repo_dir, extra_debs=(), only=None):
    """A flat apt repository in `repo_dir` (created) holding the offline .debs (all of them, or
    those whose package is in `only`) and `extra_debs`; returns its sources line."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    os.makedirs(repo_dir, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(DEBS_DIR, "*.deb"))):
        if only is not None and os.path.basename(path).split("_", 1)[0] not in only:
            continue
        _place(path, os.path.join(repo_dir, os.path.basename(path)))
    for path in extra_debs:
        _place(path, os.path.join(repo_dir, os.path.basename(path)))
    packages = subprocess.run(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"],
                              cwd=repo_dir, capture_output=True, text=True, check=True).stdout
    with open(os.path.join(repo_dir, "Packages"), "w") as f:
        f.write(packages)
    release = subprocess.run(
        ["apt-ftparchive", "-o", "APT::FTPArchive::Release::Suite=bookworm",
         "-o", "APT::FTPArchive::Release::Codename=bookworm", "release", "."],
        cwd=repo_dir, capture_output=True, text=True, check=True).stdout
    with open(os.path.join(repo_dir, "Release"), "w") as f:
        f.write(release)
    return f"deb [trusted=yes] copy://{os.path.abspath(repo_dir)} ./"


def _quoted(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_spec(path, name, source_line, packages=None, variant="essential", lab=False,
               roles=(), release="bookworm", architecture="amd64", users=()):
    """Writes an image spec: the given sources line only, `packages` {name: version} pinned on
    top of `variant`, `roles` applied, `users` ({"name": ..., "uid": ...}) created."""
    lines = ["[image]", f"name = {_quoted(name)}", 'distribution = "debian"',
             f"release = {_quoted(release)}", f"architecture = {_quoted(architecture)}",
             f"variant = {_quoted(variant)}", f"lab = {'true' if lab else 'false'}",
             f"sources = [{_quoted(source_line)}]",
             "roles = [" + ", ".join(_quoted(r) for r in roles) + "]"]
    for u in users:
        lines += ["", "[[user]]"] + [f"{k} = {_quoted(v) if isinstance(v, str) else v}"
                                     for k, v in u.items()]
    lines += ["", "[packages]"]
    for pkg, version in sorted((packages or {}).items()):
        lines.append(f"{_quoted(pkg)} = {_quoted(version)}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path
