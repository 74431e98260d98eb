// Applying a plan. Files are replaced atomically — a temporary file in the same directory gets
// the content, owner and mode, then is renamed over the target — and durability is batched:
// every temporary is written first, one syncfs per file system makes them durable, the renames
// follow, and each touched directory is fsynced once. After a crash at any point each file is
// either entirely old or entirely new. A change that fails leaves its old file intact and the
// rest go on.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "os/process.hpp"
#include "state/hash.hpp"
#include "state/model.hpp"
#include "state/plan.hpp"

namespace shipshape::state {

// batch: syncfs once per file system (the default); fsync: one fsync per file (the classic
// way, for comparison); none: no flushes at all (scratch roots, image builds).
enum class SyncMode { batch, fsync, none };

// The flushes apply asks of the kernel, behind one seam so tests can watch and fail them. Each
// returns 0, or -1 with errno set, like the call it stands for. fsync_file is called from the
// writer threads, so implementations must be thread-safe.
class Flusher {
  public:
    virtual ~Flusher() = default;
    virtual int fsync_file(int fd) = 0;  // a temporary's content (SyncMode::fsync)
    virtual int syncfs(int fd) = 0;      // the file system holding fd (SyncMode::batch)
    virtual int fsync_dir(int fd) = 0;   // a directory's entries (batch and fsync)
};

// fsync(2), syncfs(2), fsync(2).
Flusher& system_flusher();

struct ApplyOptions {
    std::string root = "/";
    std::string repo_root;  // commands run here (like checklist steps), with SHIPSHAPE_ROOT set
    SyncMode sync = SyncMode::batch;
    HashCache* cache = nullptr;
    os::ProcessRunner* runner = nullptr;
    const os::CancelSource* cancel = nullptr;
    Flusher* flusher = nullptr;  // null: system_flusher()
    // Called after each change is done (from the applying thread), for progress output.
    std::function<void(const Change&, bool ok, const std::string& error)> on_done;
};

struct ChangeResult {
    bool ok = false;
    std::string error;   // why it failed
    std::string output;  // commands, apt, useradd: their output (tail)
};

struct ApplyReport {
    std::vector<ChangeResult> results;  // one per plan change, same order
    size_t applied = 0;
    size_t failed = 0;
    size_t files_written = 0;
    // How often the Flusher was asked (failed calls included): counted where the calls are made.
    size_t syncfs_calls = 0;
    size_t file_fsyncs = 0;
    size_t dir_fsyncs = 0;
    bool cancelled = false;
};

ApplyReport apply_plan(const Plan& plan, const std::vector<Resource>& resources,
                       const ApplyOptions& options);

}  // namespace shipshape::state
