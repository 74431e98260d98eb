// A package's manifest (`shipshape.manifest/1`, docs/specs/manifest.md): everything installing or
// upgrading the package can change on a host — every member of the payload with its hash, mode,
// owner and link target, the conffiles with their content, every maintainer script's text, the
// control fields and relations, and the operating requirements the package embeds.
//
// One model serves every source: a .deb shipshape built (package/build), any .deb read from its
// archive (package/read), a manifest file, and the version installed on a host (read from its
// dpkg database). `package diff` compares two of them (package/diff).
//
// Invariants (kept by every producer, checked by parse_manifest_json): paths are absolute and
// normalised ("/usr/bin/booking": no "." or ".." parts, no trailing slash, no "//"); `files` and
// `conffiles` are sorted by path (byte order) and hold each path once; a file entry has a
// 64-hex sha256, other entries none. Members that break the first rule never enter `files`: a
// reader lists them in `unsafe`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape::package {

inline constexpr std::string_view k_manifest_format = "shipshape.manifest/1";
// The name of the manifest inside a package shipshape built: a member of control.tar.
inline constexpr std::string_view k_manifest_member = "shipshape-manifest.json";
// Conffile content up to this size, when it is UTF-8 text, is kept in the manifest (diffs show
// it); larger or binary conffiles are kept by hash only.
inline constexpr uint64_t k_max_inline_conffile = 256 * 1024;

enum class EntryType { file, directory, symlink, hardlink, char_device, block_device, fifo };
// "file", "directory", "symlink", "hardlink", "char", "block", "fifo".
std::string_view entry_type_name(EntryType type);
std::optional<EntryType> parse_entry_type(std::string_view name);

struct Entry {
    std::string path;  // "/usr/bin/booking"
    EntryType type = EntryType::file;
    uint64_t size = 0;           // files: bytes; 0 for the rest
    std::string sha256;          // files: lower-case hex; empty for the rest
    uint32_t mode = 0;           // permission bits with setuid, setgid and sticky (07777)
    std::string owner = "root";  // a name, or the numeric id when the archive has no name
    std::string group = "root";
    std::string target;  // symlink: the target as stored; hardlink: the path it links to
    // Installed side only: the file on the host differs from what its package shipped (dpkg's
    // md5sums), i.e. someone edited it locally.
    bool modified_locally = false;
    bool operator==(const Entry&) const = default;
};

struct Conffile {
    std::string path;
    std::string sha256;  // of the content; empty when the package lists it but ships no file
    uint64_t size = 0;
    std::optional<std::string> content;  // see k_max_inline_conffile
    // Installed side only: the conffile on the host differs from the one its package shipped
    // (dpkg's Conffiles hash), so an upgrade that changes it makes dpkg prompt.
    bool modified_locally = false;
    bool operator==(const Conffile&) const = default;
};

// A maintainer script or another control member (triggers, shlibs, symbols, templates, config).
struct Script {
    std::string text;    // non-UTF-8 bytes become U+FFFD (the hash is of the real bytes)
    std::string sha256;  // of the bytes
    bool operator==(const Script&) const = default;
};

struct EmbeddedRequirements {
    std::string path;  // as the spec named it, e.g. "requirements.toml"
    std::string text;  // the file, verbatim
    bool operator==(const EmbeddedRequirements&) const = default;
};

// A member a reader refused: "../etc/passwd", "/abs", a link escaping the root.
struct UnsafeMember {
    std::string member;  // as the archive names it
    std::string reason;  // "'..' in the path", "absolute path", "symlink target escapes the root"
    bool operator==(const UnsafeMember&) const = default;
};

struct ControlField {
    std::string name;
    std::string value;  // continuation lines joined with "\n", as in the control file
    bool operator==(const ControlField&) const = default;
};

struct Manifest {
    std::string package;
    std::string version;
    std::string architecture;
    std::vector<ControlField> control;  // the control file's fields, in its order
    // Relation fields split at top-level commas, trimmed: "Depends" -> {"libc6 (>= 2.36)",
    // "adduser | passwd"}. Only fields the control file has.
    std::map<std::string, std::vector<std::string>> relations;
    std::map<std::string, Script> scripts;  // "postinst" -> text
    std::vector<Conffile> conffiles;        // sorted by path
    std::vector<Entry> files;               // sorted by path
    std::optional<EmbeddedRequirements> requirements;
    std::vector<UnsafeMember> unsafe;
    bool operator==(const Manifest&) const = default;

    // The value of a control field, or "" when absent.
    std::string field(std::string_view name) const;
    // The entry at `path`, or nullptr.
    const Entry* find(std::string_view path) const;
};

// The relation fields, in the order reports show them.
inline constexpr std::string_view k_relation_fields[] = {
    "Pre-Depends", "Depends",   "Recommends", "Suggests", "Enhances",
    "Breaks",      "Conflicts", "Replaces",   "Provides",
};

// Splits a relation field's value at top-level commas and trims each relation.
std::vector<std::string> split_relations(std::string_view value);

// The sum of the file entries' sizes.
uint64_t payload_size(const Manifest& manifest);

// "0755".
std::string mode_text(uint32_t mode);

// The manifest as JSON (docs/specs/manifest.md): keys in a fixed order, two-space indent, a
// final newline; the same manifest always gives the same bytes.
std::string manifest_to_json(const Manifest& manifest);

// Parses a manifest document. Errc::invalid_definition naming `path` and the offending key
// ("booking.manifest.json: files[3].mode: expected an octal string such as \"0644\"") for
// invalid JSON, another format, unknown or missing keys, wrong types, or broken invariants.
[[nodiscard]] Result<Manifest> parse_manifest_json(std::string_view text, std::string_view path);

// Lower-case hex SHA-256 of manifest_to_json(manifest): the manifest's identity (releases bind
// sign-offs to it).
std::string manifest_sha256(const Manifest& manifest);

// "/usr/bin/x" from an archive member name ("./usr/bin/x", "usr/bin/x", "./usr/lib/"), or
// nullopt with the reason in `why` when the name is unsafe (absolute, or with a ".." part).
// The root ("./", ".") gives "/".
std::optional<std::string> normalise_member(std::string_view member, std::string& why);

}  // namespace shipshape::package
