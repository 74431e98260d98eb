// The upgrade review: what changes on a host when package version A is replaced by version B,
// computed from their two manifests (package/manifest.hpp), ordered by what an operator cares
// about: relations, operating requirements, maintainer scripts, conffiles, files, size.
//
// diff_manifests is pure and total: it never fails, prints nothing and reads nothing but its two
// arguments. Lists come out in a fixed order (relations by field then name, requirements by kind
// then subject, scripts by name, conffiles and files by path), so the same pair always gives the
// same diff. Content that cannot be shown as text (binary or larger than k_max_text_diff) is
// described by size and hash only: no diff ever holds it.
//
// The check of B's requirements against an environment's facts is not done here (it needs the
// hosts): callers that have facts fill PackageDiff::checks (see app/package_diff.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "package/manifest.hpp"
#include "require/requirements.hpp"

namespace shipshape::package {

// Texts (scripts, conffiles, requirements) up to this size on both sides get a unified diff;
// larger ones are summarised by size and hash.
inline constexpr uint64_t k_max_text_diff = 1024 * 1024;

enum class Change { added, removed, changed };
// "added", "removed", "changed".
std::string_view change_name(Change change);

// One relation, matched across A and B by field and package name(s): an alternative group
// ("mail-transport-agent | exim4") is one unit, matched by all its names.
struct RelationChange {
    std::string field;  // "Depends"
    std::string name;   // "libssl3", or "exim4 | postfix" for alternatives
    Change change = Change::changed;
    std::string before;  // "libssl3 (>= 3.0)"; empty when added
    std::string after;   // empty when removed
};

// One need of requirements.toml: "memory", "available", "≥ 2 GiB" -> "≥ 4 GiB".
struct RequirementChange {
    std::string kind;     // memory, cpus, disk, port, package, kernel, limit, env
    std::string subject;  // "available", "/var/lib/booking", "8080/tcp", "libssl3", "nofile"
    Change change = Change::changed;
    std::string before;  // "≥ 2 GiB"; empty when added
    std::string after;   // empty when removed
};

struct RequirementsDiff {
    std::vector<RequirementChange> changes;
    // The embedded requirements file appeared, disappeared or its text changed.
    bool text_changed = false;
    std::string text_diff;  // unified diff of the two texts ("" when equal or too large)
    // A side whose requirements do not parse: "b: requirements.toml:3:1: unknown key 'x'". Its
    // needs then count as absent, and text_diff still shows what changed.
    std::vector<std::string> errors;
    // B's needs checked against the facts of the environment A is installed in, when A is an
    // environment (filled by the caller): one row per host and need.
    std::optional<std::string> checked_against;  // "env:prod"
    std::vector<require::CheckRow> checks;
};

// A maintainer script or other control member (package/manifest.hpp, Script).
struct ScriptChange {
    std::string name;  // "postinst"
    Change change = Change::changed;
    std::string before_sha256, after_sha256;
    uint64_t before_size = 0, after_size = 0;
    std::string diff;  // unified diff, or "" when summarised (too large)
};

struct ConffileChange {
    std::string path;
    Change change = Change::changed;
    std::string before_sha256, after_sha256;
    uint64_t before_size = 0, after_size = 0;
    // Unified diff of the content; "" when a side keeps no content (binary or large: the
    // manifest has the hash only), or when only the local-edit note changed.
    std::string diff;
    // The conffile on the A (installed) side was edited on the host: an upgrade that changes it
    // makes dpkg prompt (keep the local version or take the package's).
    bool modified_locally_a = false;
    bool modified_locally_b = false;
};

// What differs about one path present on both sides (bits of FileChange::what).
enum FileAspect : uint32_t {
    k_aspect_content = 1U << 0,  // sha256 (files; a same-size change included)
    k_aspect_mode = 1U << 1,
    k_aspect_owner = 1U << 2,  // owner or group
    k_aspect_type = 1U << 3,
    k_aspect_target = 1U << 4,  // symlink or hard-link target
};
// "content", "mode", "owner", "type", "target" for the bits set, in that order.
std::vector<std::string_view> aspect_names(uint32_t what);

struct FileChange {
    Entry before;
    Entry after;
    uint32_t what = 0;  // FileAspect bits, never 0
};

struct FilesDiff {
    std::vector<Entry> added;    // entries of B only, by path
    std::vector<Entry> removed;  // entries of A only, by path
    std::vector<FileChange> changed;
};

// A control field other than relations, Version and Installed-Size (those have their own
// sections): Maintainer, Description, Section...
struct FieldChange {
    std::string name;
    Change change = Change::changed;
    std::string before, after;
};

struct SideInfo {
    std::string package, version, architecture;
    uint64_t payload_size = 0;                   // sum of file sizes
    std::optional<uint64_t> installed_size_kib;  // the Installed-Size field, when valid
    size_t entries = 0;
    size_t unsafe = 0;  // members the reader refused (see `package inspect`)
};

struct PackageDiff {
    SideInfo a, b;
    std::vector<RelationChange> relations;
    RequirementsDiff requirements;
    std::vector<ScriptChange> scripts;
    std::vector<ConffileChange> conffiles;
    FilesDiff files;
    std::vector<FieldChange> control;
};

PackageDiff diff_manifests(const Manifest& a, const Manifest& b);

// True when nothing differs: no section has a change, and name, version, architecture and
// sizes are equal. A diff with requirement check rows but no change is still empty.
bool empty(const PackageDiff& diff);

// The number of changed files whose size stayed the same (content changes a size check misses).
size_t same_size_content_changes(const FilesDiff& files);

// The diff as a JSON document (docs/manual.md, "Reviewing an upgrade"): keys `a`, `b`,
// `summary`, `depends`, `requirements`, `scripts`, `conffiles`, `files` {added, removed,
// changed}, `control`, `size`; two-space indent and a final newline.
std::string diff_to_json(const PackageDiff& diff);

}  // namespace shipshape::package
