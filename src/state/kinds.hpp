// Internal to state/: the resource-kind registry and the two contexts every kind works in.
//
// Each kind lives in one kind_*.cpp file that holds both how it is planned (a PlanFn that
// compares one resource with the target and appends Changes) and how its changes are applied (an
// ApplyFn). The registry (kinds.cpp) is one table of kind -> plan/apply. make_plan walks the
// resources in order and calls their kind's PlanFn; apply_plan calls each distinct ApplyFn once,
// in the table's order (accounts, packages, paths, services, commands), with the indices of the
// changes its kinds planned. A new kind is a new kind_*.cpp plus one registry line (and its loader
// keys).
//
// Every kind reaches the target's file system through Target, never through a bare --root
// string, so the root can become a directory handle (resolving beneath it) in one place.
//
// Threading: both contexts belong to one make_plan/apply_plan call on one thread; the tree
// planner and the file writer spread work over threads internally and only touch the context
// from the calling thread (except where a member says otherwise).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "os/beneath.hpp"
#include "os/process.hpp"
#include "state/accounts.hpp"
#include "state/apply.hpp"
#include "state/hash.hpp"
#include "state/model.hpp"
#include "state/plan.hpp"

namespace shipshape::state {

// Where plan and apply act: the target's root directory ("/" for the machine itself, or
// --root). Every access to a host path goes through a handle on its parent directory, resolved
// beneath a handle on the root by os::open_dir_beneath: no component is ever a symlink, so a
// symlink planted in a parent (R/etc -> /, /etc/booking -> /tmp/outside) or a directory swapped
// for one between plan and apply cannot redirect a read, write or removal. Declared [[symlink]]s
// are not followed either: a path below one is refused like any other.
//
// Parent handles are cached by directory (up to k_max_cached_dirs of them), so 1,000 files in one
// directory resolve it once; a missing directory is remembered as missing until something may
// have created it. The cache locks: any thread may ask. A handle that lookup, parent or dir
// returns belongs to the cache and stays valid only until the next of those calls (which may
// close cached handles to keep the process under its open-file limit): use it at once, or
// duplicate it (F_DUPFD_CLOEXEC) to keep it.
class Target {
  public:
    explicit Target(std::string root_path);

    std::string root = "/";

    bool is_host() const { return root.empty() || root == "/"; }
    // The real path of host path `path` (see real_path in plan.hpp): for messages and for
    // reading the target's account and package databases, never for changing anything.
    std::string real(const std::string& path) const { return real_path(root, path); }
    // The same for a directory, without the trailing slash real("/") has under a --root.
    std::string real_dir(const std::string& dir) const {
        return dir == "/" && !is_host() ? root : real(dir);
    }

    // An entry looked up without following anything. `dirfd` is its parent's handle (owned by
    // the Target; -1 when the parent does not exist), `name` its name there ("." for "/").
    struct Entry {
        int dirfd = -1;
        std::string name;
        bool exists = false;
        bool parent_created = false;  // dir(): a missing ancestor was created
        struct stat st {};
    };
    // Looks up host path `path`: fstatat(parent, name, AT_SYMLINK_NOFOLLOW). A missing entry
    // or parent is exists = false; errors are a parent that is a symlink (Errc::permission_denied,
    // "/etc/booking is a symlink (-> /tmp/outside); shipshape does not follow ..."), a parent that
    // is not a directory (Errc::conflict), and the OS's.
    [[nodiscard]] Result<Entry> lookup(const std::string& path) const;
    // The handle of `path`'s parent directory, created (0755, like mkdir -p, never through a
    // symlink) when `create` says so. Entry::exists is not filled. Errors as lookup, and
    // Errc::not_found for a missing parent with Create::no.
    [[nodiscard]] Result<Entry> parent(const std::string& path, os::Create create) const;
    // The handle of host directory `dir` itself (cached; O_RDONLY, so it can be listed and
    // fsynced). `created` is set when a missing component was made.
    [[nodiscard]] Result<int> dir(const std::string& dir, os::Create create,
                                  bool* created = nullptr) const;

    // At most this many directory handles stay open (the default soft limit of open files is
    // 1,024; a tree may have far more directories).
    static constexpr size_t k_max_cached_dirs = 64;

  private:
    [[nodiscard]] Result<int> root_fd(os::Create create) const;

    mutable std::mutex m_mutex;
    mutable os::Fd m_root;
    mutable std::unordered_map<std::string, os::Fd> m_dirs;
    // Directories found missing (Errc::not_found), until a call with Create::yes.
    mutable std::unordered_map<std::string, Error> m_missing;
};

// Everything a PlanFn may read and the changes it appends.
class PlanContext {
  public:
    PlanContext(const std::vector<Resource>& resources, const PlanOptions& options);

    const std::vector<Resource>& resources;
    const PlanOptions& options;
    Target target;
    IdMap ids;  // the target's users and groups before apply
    std::vector<Change> changes;
    std::set<std::string> changed_paths;  // host paths of every change so far (when_changed)
    // [[line]]: the pending write per host path (index into changes) and the file before it.
    std::map<std::string, size_t> line_changes;
    std::map<std::string, std::string> line_before;
    // [[package]]: installed name -> version, read from dpkg's status on first use.
    std::optional<std::map<std::string, std::string>> packages;
    // [[service]]: why services cannot be managed here ("" when they can), asked on first use.
    std::optional<std::string> no_systemd;
    // drift --strict: extra entries the tree walks found.
    std::vector<std::string> tree_unmanaged;

    Change& add(size_t index, Action action, Op op, std::string path, std::string what);
    // A change that cannot be applied (apply reports `error` and skips it).
    void add_error(size_t index, const std::string& path, std::string what, std::string error);

    // The uid/gid of a named owner/group: nullopt with `pending` when a [[user]]/[[group]]
    // applied first will create it, nullopt without it when no name is given.
    std::optional<uint32_t> uid_of(const std::optional<std::string>& name, bool& pending) const;
    std::optional<uint32_t> gid_of(const std::optional<std::string>& name, bool& pending) const;
    // Whether `st` has the owner and group the resource names (unnamed ones always match).
    bool owner_matches(const Resource& r, const struct stat& st) const;
    // Mode/owner/group differences of an existing entry; fills the change's final attributes.
    void compare_attrs(const Resource& r, const struct stat& st, std::optional<unsigned> mode,
                       Change& c) const;
    // The attributes of a new entry (`fallback` mode unless the resource names one).
    void new_attrs(const Resource& r, std::optional<unsigned> mode, unsigned fallback,
                   Change& c) const;
    // "creates missing parent directories" when lookup found no parent.
    void note_missing_parent(Change& c, const Target::Entry& e) const;
    // The content hash of `name` under `dirfd`, through the hash cache when there is one.
    // Thread-safe (the cache locks).
    Result<Hash128> hash_at(int dirfd, const char* name, const struct stat& st) const;
};

// The content of existing entry `e` (host path `path`), read through its parent's handle with
// O_NOFOLLOW. Errc as os::read_fd, with "reading 'PATH'" as context.
[[nodiscard]] Result<std::string> read_entry(const Target::Entry& e, const std::string& path);

// The text of host file `path` read through Target (never through a symlink), "" when it is
// missing or cannot be read: the target's passwd, group and dpkg status.
std::string read_target_text(const Target& target, const std::string& path);
// The target's users and groups, read so.
IdMap read_target_ids(const Target& target);

Change make_change(size_t index, Action action, Op op, std::string path, std::string what);

// Collects a child's output whole (guards, apt-cache policy).
class StringSink : public os::OutputSink {
  public:
    void on_output(std::string_view chunk) override { text.append(chunk); }
    std::string text;
};

// Keeps the last 8 KiB of a child's output (apply's tools: their output tail in the report).
class TailSink : public os::OutputSink {
  public:
    void on_output(std::string_view chunk) override {
        text.append(chunk);
        if (text.size() > 8192) {
            text.erase(0, text.size() - 8192);
        }
    }
    std::string text;
};

// Byte limit for content diffs, and whether bytes are text (no NUL).
constexpr size_t k_diff_limit = 1 << 20;
inline bool is_text(std::string_view s) {
    return s.find('\0') == std::string_view::npos;
}

// The flushes of one apply, counted: ApplyReport's sync figures are these counts, so they say how
// often the kernel was really asked. Thread-safe.
class CountingFlusher final : public Flusher {
  public:
    explicit CountingFlusher(Flusher& inner) : m_inner(inner) {}
    int fsync_file(int fd) override;
    int syncfs(int fd) override;
    int fsync_dir(int fd) override;

    std::atomic<size_t> file_fsyncs{0};
    std::atomic<size_t> syncfs_calls{0};
    std::atomic<size_t> dir_fsyncs{0};

  private:
    Flusher& m_inner;
};

// Everything an ApplyFn may use, and the report it fills.
class ApplyContext {
  public:
    ApplyContext(const Plan& plan, const std::vector<Resource>& resources,
                 const ApplyOptions& options);

    const Plan& plan;
    const std::vector<Resource>& resources;
    const ApplyOptions& options;
    Target target;
    CountingFlusher flusher;
    ApplyReport report;
    bool stop = false;  // set by an ApplyFn that was cancelled: later ones do not run

    bool cancelled() const { return options.cancel && options.cancel->cancelled(); }
    const Change& change(size_t i) const { return plan.changes[i]; }
    const Resource& resource_of(size_t i) const { return resources[plan.changes[i].resource]; }
    // Records change i's outcome and tells on_done.
    void done(size_t i, bool ok, std::string error = {}, std::string output = {});
    // Runs `argv` for change i (in the ops repo with command_env when `in_repo`), and records
    // the outcome with the tail of its output.
    void run_tool(size_t i, std::vector<std::string> argv, bool in_repo = false);
};

using PlanFn = void (*)(PlanContext& ctx, size_t index, const Resource& r);
// Applies `changes` (indices into the plan, in plan order; changes with a planning error are
// included and must be reported, not applied).
using ApplyFn = void (*)(ApplyContext& ctx, const std::vector<size_t>& changes);

struct KindEntry {
    Kind kind;
    PlanFn plan;
    ApplyFn apply;
};

// The registry, in apply order.
const std::vector<KindEntry>& kind_registry();
const KindEntry& kind_entry(Kind kind);

// ---- the kinds (one file each) ------------------------------------------------------------

// kind_accounts.cpp
void plan_group(PlanContext& ctx, size_t index, const Resource& r);
void plan_user(PlanContext& ctx, size_t index, const Resource& r);
void apply_accounts(ApplyContext& ctx, const std::vector<size_t>& changes);
// kind_packages.cpp
void plan_package(PlanContext& ctx, size_t index, const Resource& r);
void apply_packages(ApplyContext& ctx, const std::vector<size_t>& changes);
// kind_service.cpp
void plan_service(PlanContext& ctx, size_t index, const Resource& r);
void apply_services(ApplyContext& ctx, const std::vector<size_t>& changes);
// kind_commands.cpp
void plan_command(PlanContext& ctx, size_t index, const Resource& r);
void apply_commands(ApplyContext& ctx, const std::vector<size_t>& changes);
// Path kinds: each plans in its own file; their changes (Op::mkdir/attrs/write/symlink/remove)
// are applied together by apply_paths (paths.cpp), which batches durability across them.
void plan_directory(PlanContext& ctx, size_t index, const Resource& r);  // kind_directory.cpp
void plan_tree(PlanContext& ctx, size_t index, const Resource& r);       // kind_tree.cpp
void plan_file(PlanContext& ctx, size_t index, const Resource& r);       // kind_file.cpp
void plan_line(PlanContext& ctx, size_t index, const Resource& r);       // kind_line.cpp
void plan_symlink(PlanContext& ctx, size_t index, const Resource& r);    // kind_symlink.cpp
void plan_absent(PlanContext& ctx, size_t index, const Resource& r);     // kind_absent.cpp
void apply_paths(ApplyContext& ctx, const std::vector<size_t>& changes);

}  // namespace shipshape::state
