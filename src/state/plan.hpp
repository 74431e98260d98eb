// Planning: compare desired state with what the target host has, and say — without changing
// anything — what apply would create, change or remove. The plan carries everything apply
// needs, so apply never re-reads the state and acts only on what was shown.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "os/process.hpp"
#include "state/hash.hpp"
#include "state/model.hpp"

namespace shipshape::state {

enum class Action { create, change, remove, run };
std::string_view action_name(Action action);  // "create", "change", "remove", "run"

enum class Op { write, mkdir, attrs, symlink, remove, package, group, user, service, command };

struct Change {
    size_t resource = 0;  // index into DesiredState::resources
    Action action = Action::create;
    Op op = Op::write;
    std::string path;  // the host path (not under --root), or the package/user/group name
    std::string what;  // "file", "directory", "symlink", "package", ... of this entry
    std::vector<std::string> details;  // "mode 0644 -> 0640", "owner root -> booking", ...
    std::string diff;                  // unified diff of the content (plan --diff), if text
    std::string error;  // the plan found this cannot be applied (apply skips and reports it)
    // With `error`: this host cannot do it at all (no systemd for a [[service]]); exit code 3.
    bool unsupported = false;

    // What apply does. write: `content` or the file `copy_from` (relative to the ops repo,
    // Plan::source_root, and opened beneath it); then mode/uid/gid.
    bool content_changed = false;
    std::string content;
    std::string copy_from;
    std::optional<unsigned> mode;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
    std::string target;             // symlink
    std::vector<std::string> argv;  // package/group/user/command: the command apply runs
    Hash128 content_hash;           // write: XXH3 of the new content, for the hash cache
    bool has_content_hash = false;
};

struct Plan {
    std::string root = "/";
    std::string source_root;             // the ops repo (PlanOptions::source_root)
    std::vector<Change> changes;         // in apply order
    std::vector<std::string> unmanaged;  // drift --strict: host paths no resource declares
    size_t resources = 0;
    size_t creates = 0;
    size_t changes_count = 0;
    size_t removes = 0;
    size_t runs = 0;
    size_t errors = 0;
    size_t unsupported = 0;  // errors that are Change::unsupported

    bool empty() const { return changes.empty(); }
    // "3 to create, 1 to change, 0 to remove" (+ ", 1 command to run" when any).
    std::string summary() const;
};

struct PlanOptions {
    std::string root = "/";   // every path is looked up under this directory
    std::string source_root;  // the ops repo: tree sources are relative to it
    bool diffs = false;       // fill Change::diff for changed text files
    bool strict = false;      // list unmanaged entries in managed directories
    HashCache* cache = nullptr;
    unsigned threads = 0;                 // tree comparison threads; 0: one per core
    os::ProcessRunner* runner = nullptr;  // for `unless` guards; null: commands always run
    const os::CancelSource* cancel = nullptr;
    // [[service]]: PID 1's name is read here to tell whether systemd is init.
    std::string init_comm_path = "/proc/1/comm";
};

// Compares `state` with the target. Problems with single resources (a directory where a file
// should be, an unreadable file) become Change::error and planning goes on; only failures that
// make the whole plan meaningless are errors.
[[nodiscard]] Result<Plan> make_plan(const std::vector<Resource>& resources,
                                     const PlanOptions& options);

// The environment commands and guards run with: ours plus SHIPSHAPE_ROOT (the --root, or "/").
std::vector<std::string> command_env(const std::string& root);

// The real path of a host path under `root`.
std::string real_path(const std::string& root, const std::string& path);

}  // namespace shipshape::state
