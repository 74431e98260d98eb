// Internal to state/: applying the changes of the path kinds (directory, tree, file, line,
// symlink, absent). apply_paths (paths.cpp) runs the one sequence that keeps the durability
// promise of apply.hpp across all of them:
//   planning errors and mkdirs -> temporaries written (kind_file.cpp) -> one syncfs per file
//   system -> symlinks and attribute changes -> temporaries renamed -> removals (deepest first)
//   -> each touched directory fsynced once.
// Each step is implemented in the file of the kind that owns its Op; they share a PathApply.
//
// Every entry is reached through its parent's handle from PathApply::target (see Target in
// kinds.hpp): *at() calls with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, never a path string.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

#include "state/kinds.hpp"

namespace shipshape::state {

// A temporary file standing in for change `change` until it is renamed over `name`, both in the
// directory `dirfd` (host path `dir`).
struct Temp {
    size_t change = 0;
    int dirfd = -1;    // while it is written only (write_temps owns it), then -1
    std::string dir;   // host path of the directory
    dev_t dev = 0;     // the directory it was written in: later steps re-resolve `dir` and act
    ino_t ino = 0;     // only if it is still this very directory
    std::string temp;  // the temporary's name
    std::string name;  // the final name
    Hash128 hash;
    bool ok = false;
    std::string error;
    bool made_parents = false;
};

class PathApply {
  public:
    explicit PathApply(ApplyContext& ctx);

    ApplyContext& ctx;
    const Target& target;
    IdMap ids;                   // read after accounts were applied
    std::vector<Temp> temps;     // kind_file.cpp
    std::set<std::string> dirs;  // host directories whose entries changed: fsynced at the end

    // chown (if the change or its resource names an owner/group) then chmod (chown clears
    // set-id bits, so the mode goes last), on open file `fd`. False with `error` set.
    bool own_and_mode(int fd, const Change& c, std::string& error) const;
    // Opens existing entry `name` under `dirfd` for own_and_mode: never a symlink (refused, with
    // the reason in `error`), only a regular file or a directory. -1 on failure.
    int open_entry(int dirfd, const std::string& name, const Change& c, std::string& error) const;
    // Directories created on the way to host path `path` must reach the disk too: adds every
    // ancestor to `dirs`.
    void add_ancestors(const std::string& path);
    // The ops repo's handle (tree sources are copied through it); -1 when it cannot be opened.
    // Opened before the writer threads start.
    int repo_fd() const { return m_repo.get(); }

  private:
    os::Fd m_repo;
};

std::string parent_of(const std::string& path);
std::string base_of(const std::string& path);
std::string err_text(const std::string& what, int err);

// The temporary apply writes for entry `name`: ".NAME.shipshape-PID-N" beside it, N the change's
// index. A killed apply leaves these behind (see remove_stale_temps). temp_path_for: the same
// for a whole path.
std::string temp_name_for(const std::string& name, pid_t pid, size_t n);
std::string temp_path_for(const std::string& final_path, pid_t pid, size_t n);
// Removes the temporaries of processes that no longer exist from directory `dirfd`. Those of
// live processes (a concurrent apply) and every other entry are left alone.
void remove_stale_temps(int dirfd);

// kind_directory.cpp: Op::mkdir and Op::attrs.
void apply_mkdir(PathApply& pa, size_t i);
void apply_attrs(PathApply& pa, size_t i);
// kind_file.cpp: Op::write, in the stages apply_paths runs.
void write_temps(PathApply& pa, const std::vector<size_t>& changes);
void sync_temps(PathApply& pa);
void rename_temps(PathApply& pa);
void discard_temps(PathApply& pa);
// kind_symlink.cpp: Op::symlink.
void apply_symlink(PathApply& pa, size_t i);
// kind_absent.cpp: Op::remove, deepest paths first.
void apply_removals(PathApply& pa, const std::vector<size_t>& changes);

}  // namespace shipshape::state
