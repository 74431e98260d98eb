// Releases, stages and sign-offs (#17), the use cases behind `release create/show/list/verify`,
// `sign-off` and `run --release`.
//
// Where things live: a release's record is releases/NAME/ID.json in the ops repo (ID: the sha256
// of its canonical document, release/release.hpp), its sign-offs signoffs/NAME/*.json, who may
// sign allowed_signers and signers.toml at the root. The store keeps the same records in its
// audit ledger ("release" and "sign-off" entries) and the journal says which runs carried which
// release (runs.hpp: k_release_event). Everything but the `after` gates can therefore be checked
// from the ops repo alone.
//
// Not thread-safe: one ReleaseService per thread (it uses the store).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/project.hpp"
#include "core/error.hpp"
#include "os/process.hpp"
#include "release/release.hpp"
#include "release/signers.hpp"
#include "store/store.hpp"

namespace shipshape::app {

struct ReleaseCreateRequest {
    std::string name;
    std::vector<std::string> packages;  // .deb files or plain artifacts, as given
    std::string checklist;
    std::vector<std::pair<std::string, std::string>> params;
    std::string cwd;   // to resolve the paths given
    std::string user;  // recorded as created_by; empty: current_user()
};

struct ReleaseCreated {
    release::ReleaseRecord record;
    std::string file;      // the record's path, relative to the repo
    bool existed = false;  // the same content was released before under this id
    // The newest earlier id of the name, and what changed since it.
    std::optional<release::ReleaseRecord> previous;
    std::vector<std::string> changes;
    std::optional<store::AuditEntry> audit;
};

struct StageStatus {
    const release::Stage* stage = nullptr;
    release::GateReport gate;
    bool run_done = false;  // a run carrying this release finished on the stage's environment
};

struct ReleaseStatus {
    release::ReleaseRecord record;
    // The record's own integrity: its id is the hash of its document.
    bool id_matches = true;
    // The inputs hashed now against the record: what changed since the release was made.
    std::vector<std::string> changed;
    std::string superseded_by;        // a newer id of the same name, "" when this is the newest
    std::vector<StageStatus> stages;  // earliest first
    std::string reached;              // the furthest stage whose run finished; "" none
};

struct SignOffRequest {
    std::string release;  // NAME or ID (a prefix of 8+ hex digits)
    std::string stage;
    std::string role;
    std::string note;
    std::string key;  // private key file (or a public key whose private half ssh-agent holds);
                      // empty: the first key ssh-agent offers
};

struct SignOffDone {
    release::SignOff sign_off;
    std::string person;  // the principal it counts for
    std::string file;    // relative to the repo
    std::optional<store::AuditEntry> audit;
    StageStatus stage;  // the stage's gate after this sign-off
};

// allowed_signers + signers.toml at the repo's root. Errc::invalid_definition with
// file:line:col; Errc::not_found saying how to create them.
[[nodiscard]] Result<release::Trust> load_trust(const Project& project);

// What `validate` checks of releases: allowed_signers and signers.toml parse (when present, or
// when a stage asks for sign-offs), and every role a stage asks sign-offs of is in signers.toml.
// One message per problem, "file:line:col: ...". `files` receives the files checked.
std::vector<std::string> validate_release_files(const Project& project,
                                                std::vector<std::string>& files);

class ReleaseService {
  public:
    ReleaseService(const Project& project, store::Store* store, os::ProcessRunner& runner);

    // Hashes the inputs, writes releases/NAME/ID.json (unless the same id exists) and appends a
    // "release" audit entry. Errc::invalid_argument for a bad name or missing inputs.
    [[nodiscard]] Result<ReleaseCreated> create(const ReleaseCreateRequest& request);

    // NAME (its newest id) or an id or id prefix (8+ hex digits). Errc::not_found naming the
    // releases there are; Errc::invalid_argument for an ambiguous prefix.
    [[nodiscard]] Result<release::ReleaseRecord> resolve(std::string_view name_or_id) const;
    // Every release record, newest first.
    [[nodiscard]] Result<std::vector<release::ReleaseRecord>> list() const;

    // Everything known of a release: integrity, changed inputs, each stage's gate. Without a
    // store (offline) no stage's run counts as finished.
    [[nodiscard]] Result<ReleaseStatus> status(const release::ReleaseRecord& record);

    // Signs with ssh-keygen -Y sign, checks the signature as the gate will (refusing to record
    // one that would not count, with the reason), writes signoffs/NAME/… and appends a
    // "sign-off" audit entry.
    [[nodiscard]] Result<SignOffDone> sign_off(const SignOffRequest& request);

    // The stage `env` belongs to, and whether the release may run there: for `run --release`.
    // Errc::invalid_argument when no stage uses `env`.
    [[nodiscard]] Result<StageStatus> gate_for_env(const release::ReleaseRecord& record,
                                                   std::string_view env);

    // An armored SSHSIG of `message` for namespace shipshape-signoff, made by `ssh-keygen -Y
    // sign -f KEY` (empty `key`: the first key ssh-agent offers). Errc::invalid_argument with
    // ssh-keygen's reason when it fails.
    [[nodiscard]] Result<std::string> sign_message(const std::string& message,
                                                   const std::string& key) const;

    // The release's inputs hashed again now (same paths, params and name).
    [[nodiscard]] Result<release::ReleaseDocument> rehash(
        const release::ReleaseDocument& doc) const;

  private:
    Result<release::ReleaseDocument> build_document(
        const std::string& name, const std::vector<std::string>& packages,
        const std::string& checklist,
        std::vector<std::pair<std::string, std::string>> params) const;
    Result<std::vector<std::pair<std::string, release::SignOff>>> load_sign_offs(
        const std::string& name) const;
    Result<bool> stage_run_done(const std::string& release_id, const release::Stage& stage);
    Result<bool> journal_has_release_run(const std::string& release_id,
                                         const release::Stage& stage);
    Result<StageStatus> evaluate(const release::ReleaseRecord& record, const release::Stage& stage,
                                 const release::Trust& trust,
                                 const std::vector<std::pair<std::string, release::SignOff>>& offs);
    std::string repo_relative(const std::string& absolute) const;

    const Project& m_project;
    store::Store* m_store;  // null: offline (no journal, no ledger)
    os::ProcessRunner& m_runner;
    // What this service read already (one command's lifetime): files by absolute path, .debs
    // by path, and the release records.
    mutable std::map<std::string, release::HashedFile> m_file_cache;
    mutable std::map<std::string, release::PackageInput> m_package_cache;
    mutable std::optional<std::vector<release::ReleaseRecord>> m_records;
    std::map<std::pair<std::string, std::string>, bool> m_runs_done;  // (id, stage) -> done
};

}  // namespace shipshape::app
