#!/usr/bin/env python3
"""The dependency rule of docs/architecture.md, checked: which directory of src/ may include
which, and where third-party headers may appear. Prints each offending FILE:LINE with the rule
it breaks and exits 1; exits 0 when the tree keeps the rules. ctest runs it (check.includes).

    scripts/check-includes.py [--root DIR]     # DIR defaults to the repository of this script

The rules are two tables below, written by directory and by file-name pattern (fnmatch, on the
path below src/), so files moving inside a module or new adapters (`*_json.cpp`) keep them.
Changing a rule means changing a table here and the same rule in docs/architecture.md."""
import argparse
import fnmatch
import os
import re
import sys

# Module -> the modules it may include (besides itself). One module = one directory of src/.
# core <- os <- facts/state/checklist/faults/store/fleet <- require(facts) <- app <- server <- cli
# core <- ci <- app
ALLOWED_MODULES = {
    "core": set(),
    "os": {"core"},
    "facts": {"core", "os"},
    "require": {"core", "facts"},
    "checklist": {"core", "os"},
    "state": {"core", "os", "facts"},
    "faults": {"core", "os"},
    "store": {"core"},
    "fleet": {"core", "os"},
    # releases and sign-offs: documents, stages' gates, who may sign, SSHSIG verification.
    "release": {"core", "os"},
    # production images: specs, manifests (hashes from state), records under .shipshape/images;
    # check (patch or rebuild) compares Debian versions (require).
    "image": {"core", "os", "state", "require"},
    # packages: hashes and unified diffs (state), Debian versions and requirements (require).
    "package": {"core", "os", "facts", "state", "require"},
    # CI (#19), pure: .shipshape-ci.toml as a value, JUnit XML read into per-test results.
    "ci": {"core"},
    # app joins the branches; faults is there for app::FaultService (the use case of `fault`).
    "app": {"core", "os", "facts", "require", "checklist", "state", "faults", "store", "fleet",
            "package", "release", "image", "ci"},
    # cli carries `serve`, which starts the server.
    "cli": {"core", "os", "facts", "require", "checklist", "state", "faults", "store", "fleet",
            "package", "release", "image", "ci", "app", "server"},
    "server": {"core", "os", "facts", "require", "checklist", "state", "faults", "store",
               "fleet", "package", "release", "image", "ci", "app"},
}

# Files that may use one more module than their directory's rule allows: (files, modules, why).
EXTRA_MODULES = [
    ("store/testing/*", {"os"},
     "the test PostgreSQL server (test-only) starts its processes through os::ProcessRunner"),
]

# Our headers that only some files may include: (header, files allowed, why).
RESTRICTED_HEADERS = [
    ("core/toml_reader.hpp", ["*_toml.cpp", "core/toml_reader*_test.cpp"],
     "it includes toml++, which only the TOML adapters (*_toml.cpp) may see"),
]

# Third-party headers: (what an include starts with, files allowed, why). A header whose
# directory is in neither this table nor SYSTEM_PREFIXES is reported as unknown.
THIRD_PARTY = [
    ("toml++/", ["*_toml.cpp", "core/toml_reader.hpp"],
     "toml++ only in the TOML adapters"),
    ("nlohmann/", ["*_json.cpp", "*_json_test.cpp", "package/manifest_json.hpp", "cli/json.cpp",
                   "cli/json_internal.hpp",
                   "cli/cmd_state.cpp",
                   "cli/cmd_fleet.cpp", "state/report.cpp", "app/state_service.cpp",
                   "app/fleet_service.cpp", "app/agent.cpp", "fleet/fleet.cpp"],
     "nlohmann/json only in *_json.cpp adapters and the files listed in docs/architecture.md"),
    ("CLI/", ["cli/*.cpp"],
     "CLI11 only in src/cli/, never in a header (context.hpp forward-declares CLI::App)"),
    ("fmt/", ["cli/*"], "fmt only in src/cli/, which formats terminal output"),
    ("sqlite3.h", ["store/sqlite/*", "store/*_test.cpp"],
     "SQLite only in the store's sqlite backend (and the store tests)"),
    ("libpq-fe.h", ["store/postgres/*", "store/*_test.cpp"],
     "PostgreSQL only in the store's postgres backend"),
    ("xxhash.h", ["state/*.cpp", "fleet/*.cpp", "app/fleet_service*.cpp", "app/agent*.cpp"],
     "xxHash for change detection (state) and names/bundle hashes (fleet, app's fleet side)"),
    ("openssl/", ["app/users.cpp", "release/sshsig.cpp", "store/audit.cpp"],
     "libcrypto for access tokens: random bytes, salted hash, constant-time compare "
     "(app/users.cpp), SSHSIG verification (release/sshsig.cpp), the audit chain's hash "
     "(store/audit.cpp); never in what the static agent links"),
    ("nettle/", ["state/hash.cpp", "app/agent_protocol_json.cpp"],
     "nettle for SHA-256 and MD5 (state/hash.cpp) and base64 (the agent protocol): the static "
     "agent links it, where a static OpenSSL would add 4 MB"),
    ("apt-pkg/", ["require/version_test.cpp"],
     "libapt-pkg is a test oracle only, never linked into shipshape"),
    # The faults engine's own (internal) headers may carry them; nothing outside faults/ may.
    ("nftables/", ["faults/*"], "libnftables only in the faults engine"),
    ("libnetfilter_queue/", ["faults/*"], "libnetfilter_queue only in the faults engine"),
    ("fuse.h", ["faults/*"], "libfuse only in the faults engine"),
    ("fuse3/", ["faults/*"], "libfuse only in the faults engine"),
    ("pugixml.hpp", ["*_pugixml.cpp"], "pugixml only in the XML adapters (ci/junit_pugixml.cpp)"),
    ("pugiconfig.hpp", ["*_pugixml.cpp"], "pugixml only in the XML adapters (ci/junit_pugixml.cpp)"),
    ("tl/", ["core/error.hpp"], "tl::expected is Result<T>: included once, by core/error.hpp"),
    ("gtest/", ["*_test.cpp", "*_test_fixture.hpp", "core/testing/*"], "GoogleTest only in tests and test helpers"),
    ("gmock/", ["*_test.cpp", "core/testing/*"], "GoogleTest only in tests and test helpers"),
    ("benchmark/", [], "Google Benchmark only in bench/, outside src/"),
    ("httplib.h", ["server/*"], "cpp-httplib only in the server"),
    ("archive", ["package/*_archive.cpp", "package/*_archive_test.cpp"],
     "libarchive only in the package archive adapters (package/*_archive.cpp)"),
]

# Directories of the C library, POSIX and Linux: not third-party.
SYSTEM_PREFIXES = ("sys/", "linux/", "netinet/", "arpa/", "net/", "bits/", "asm/", "asm-generic/",
                   "netpacket/", "scsi/", "mtd/", "rdma/", "sound/", "video/", "xen/")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE_EXTENSIONS = (".cpp", ".hpp", ".h", ".cc", ".c")


def matches(rel, patterns):
    return any(fnmatch.fnmatchcase(rel, p) for p in patterns)


def check_file(rel, text):
    """Problems in one file; `rel` is its path below src/ ("facts/gather.cpp")."""
    module = rel.split("/", 1)[0]
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        kind, header = m.groups()
        where = f"src/{rel}:{number}"
        if kind == '"':
            if "/" not in header:
                continue  # a header beside the file
            target = header.split("/", 1)[0]
            allowed = ALLOWED_MODULES.get(module)
            if allowed is None:
                problems.append(f"{where}: src/{module}/ is not in the dependency rule; add it "
                                f"to ALLOWED_MODULES in scripts/check-includes.py and to "
                                f"docs/architecture.md")
            elif (target in ALLOWED_MODULES and target != module and target not in allowed and
                  not any(matches(rel, [files]) and target in extra
                          for files, extra, _ in EXTRA_MODULES)):
                may = ", ".join(sorted(allowed)) or "nothing of ours"
                problems.append(f"{where}: {module} may not include {header} "
                                f"(rule: {module} may use {may})")
            for restricted, files, why in RESTRICTED_HEADERS:
                if header == restricted and not matches(rel, files):
                    problems.append(f"{where}: {header} may be included only by "
                                    f"{', '.join(files)} ({why})")
            continue
        if header.startswith(SYSTEM_PREFIXES):
            continue
        for prefix, files, why in THIRD_PARTY:
            if header == prefix or header.startswith(prefix):
                if not matches(rel, files):
                    places = ", ".join(files) or "nowhere in src/"
                    problems.append(f"{where}: <{header}> is not allowed here "
                                    f"(rule: only in {places}: {why})")
                break
        else:
            if "/" in header:
                problems.append(f"{where}: <{header}> is a third-party header the rules do not "
                                f"know; add it to THIRD_PARTY in scripts/check-includes.py "
                                f"and to docs/architecture.md")
    return problems


def check_tree(src):
    problems = []
    for directory, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(SOURCE_EXTENSIONS):
                continue
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            if "/" not in rel:
                continue  # nothing lives directly in src/
            with open(path, encoding="utf-8", errors="replace") as f:
                problems += check_file(rel, f.read())
    return problems


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="the repository (its src/ is checked)")
    args = parser.parse_args(argv)
    src = os.path.join(args.root, "src")
    if not os.path.isdir(src):
        print(f"check-includes: no src/ in {args.root}", file=sys.stderr)
        return 2
    problems = check_tree(src)
    for p in problems:
        print(p)
    if problems:
        print(f"check-includes: {len(problems)} include(s) break the dependency rule "
              f"(docs/architecture.md, 'Dependency rule')", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
