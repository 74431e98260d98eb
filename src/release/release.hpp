// Releases bound to content (#17): what a release is made of, its canonical document (whose
// sha256 is the release id), stages and what each demands, and the sign-offs people make.
//
// Pure values and functions; thread-safe. Files, hashing and the store are app/release_*'s.
// The canonical document is JSON with sorted keys and no insignificant whitespace
// (docs/specs/release.md), so the same inputs give the same id on every machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/error.hpp"

namespace shipshape::release {

// A file the release is bound to: its path relative to the ops repo (or as given, for files
// outside it) and the sha256 of its bytes.
struct HashedFile {
    std::string path;
    std::string sha256;
    bool operator==(const HashedFile&) const = default;
};

// A package (or a plain artifact when `package` is empty: not a Debian package).
struct PackageInput {
    std::string path;
    std::string sha256;           // of the file's bytes
    std::string manifest_sha256;  // of its shipshape.manifest/1 document; "" for an artifact
    std::string package;
    std::string version;
    std::string architecture;
    bool operator==(const PackageInput&) const = default;
};

struct ReleaseDocument {
    std::string name;
    std::vector<PackageInput> packages;  // in the order given
    HashedFile checklist;
    std::vector<std::pair<std::string, std::string>> params;  // sorted by name
    std::optional<HashedFile> requirements;                   // requirements.toml, when present
    std::vector<HashedFile> state;                            // the state files, sorted by path
    bool operator==(const ReleaseDocument&) const = default;
};

// The document as stored in releases/NAME/ID.json: the hashed document plus who made it when
// (not part of the id, so the same content always has the same id).
struct ReleaseRecord {
    std::string id;  // sha256 of canonical_json(document)
    ReleaseDocument document;
    int64_t created_at = 0;  // ms since the epoch
    std::string created_by;
};

// The document in canonical form: the bytes the id hashes.
std::string canonical_json(const ReleaseDocument& doc);

std::string record_to_json(const ReleaseRecord& record);
// Errc::invalid_definition naming `where` and the field for anything malformed.
[[nodiscard]] Result<ReleaseRecord> parse_record_json(std::string_view text,
                                                      std::string_view where);

// What differs between the document a release was made from and `now` (the same inputs hashed
// again, or a newer release of the name), one line each, e.g. "checklist changed:
// checklists/deploy.toml sha256 a1b2c3d4… → c3d4e5f6…". Empty when they are equal.
std::vector<std::string> describe_changes(const ReleaseDocument& before,
                                          const ReleaseDocument& now);

// A valid release name: letters, digits, '.', '-', '_', '+', '~', 1-128 characters, starting
// with a letter or digit (it names a directory under releases/ and signoffs/).
bool valid_release_name(std::string_view name);

// "a1b2c3d4…" : the first 12 hex digits, how ids and hashes are shown.
std::string short_hash(std::string_view hex);

// --- Stages ([stage.NAME] in shipshape.toml) ---
struct Stage {
    std::string name;
    std::string env;    // the environment a run of this stage uses (default: the stage's name)
    std::string after;  // a stage whose run of the release must have finished first; "" none
    std::vector<std::pair<std::string, int>> sign_offs;  // role -> distinct people, by role name
    SourcePos pos;
};

// --- Sign-offs ---
inline constexpr std::string_view k_signoff_namespace = "shipshape-signoff";

// One signed approval of a release for a stage, in a role, as kept in signoffs/NAME/*.json and
// in the store's audit ledger. The signature (armored SSHSIG) signs signoff_message().
struct SignOff {
    std::string release_id;
    std::string release_name;
    std::string stage;
    std::string role;
    int64_t at = 0;  // ms since the epoch: when it was signed (the key's validity is checked then)
    std::string note;
    std::string signature;
};

// The exact bytes signed: a versioned text with one "field: value" line per field (the note
// escaped to one line), so a signature over one release, stage or role never fits another.
std::string signoff_message(const SignOff& s);

std::string signoff_to_json(const SignOff& s);
[[nodiscard]] Result<SignOff> parse_signoff_json(std::string_view text, std::string_view where);

// A signed manual check-off of a run's step (a step with signed = true): the same signature
// path, over a message naming the run, step, role, the checklist's hash, time and note.
struct SignedCheckOff {
    std::string run_id;
    std::string step_id;
    std::string role;
    std::string checklist_sha256;  // of the checklist text the run started with
    int64_t at = 0;
    std::string note;
    std::string signature;
};
std::string checkoff_message(const SignedCheckOff& c);
std::string signed_checkoff_to_json(const SignedCheckOff& c);

// "2026-12-07T14:03:00.123Z"
std::string iso_time(int64_t ms);

}  // namespace shipshape::release
