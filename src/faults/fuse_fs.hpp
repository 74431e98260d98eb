// FaultFs: a FUSE pass-through file system mounted over a directory, in the calling process's
// mount namespace, that injects I/O faults which the kernel then delivers to every program
// using that directory: EIO on a fraction of reads, writes or fsyncs, added delay on every
// operation, and a power-loss model in which data that was never fsynced is gone when
// power_loss() is called.
//
// Threading: mount() starts the FUSE session on its own threads; every setter and counters()
// may be called from any thread while requests are served (they use atomics or one mutex).
// Destruction unmounts (lazily if busy) and joins the threads.
//
// The underlying directory is reached through a directory fd opened before the mount, so the
// original content is what programs see and change; nothing is copied.
//
// Power-loss model (documented for users in docs/manual.md, "fault --lose-unsynced"):
// - file content written since the file was last fsynced (or fdatasynced) is lost: the file
//   returns to its content at its last sync, or to its content when tracking began;
// - a file created during the run whose content was never synced disappears;
// - a rename of a file whose content was not synced over an existing file leaves the old file;
// - unlinks, mkdirs and renames of synced files are kept (metadata is treated as journaled).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/duration.hpp"
#include "core/error.hpp"

namespace shipshape::faults {

// Which operations an I/O error applies to (bit set).
enum IoOp : unsigned { io_read = 1, io_write = 2, io_fsync = 4, io_all = 7 };

struct FaultFsCounters {
    uint64_t reads = 0;      // read requests served (including failed ones)
    uint64_t writes = 0;     // write requests
    uint64_t fsyncs = 0;     // fsync/fdatasync requests (files and directories)
    uint64_t eio_reads = 0;  // requests answered with EIO by the fault (not by the real disk)
    uint64_t eio_writes = 0;
    uint64_t eio_fsyncs = 0;
    uint64_t delayed = 0;     // operations that were slowed down
    uint64_t enospc = 0;      // ENOSPC returned by the underlying file system, passed on
    uint64_t lost_files = 0;  // files reverted or removed by power_loss()
    uint64_t lost_bytes = 0;  // bytes of unsynced content thrown away by power_loss()
};

class FaultFs {
  public:
    // Mounts over `path` (an existing directory, absolute). Returns Errc::unsupported when FUSE
    // cannot be used (no /dev/fuse, no privilege: the message says which), Errc::not_found when
    // `path` is missing, Errc::io for other failures.
    [[nodiscard]] static Result<std::unique_ptr<FaultFs>> mount(const std::string& path);

    virtual ~FaultFs() = default;

    // EIO on `percent` (0–100) of the operations in `ops`; 0 turns it off.
    virtual void set_io_error(unsigned percent, unsigned ops) = 0;
    // Every operation sleeps this long first; 0 turns it off.
    virtual void set_delay(Millis delay) = 0;
    // Starts (true) or stops tracking unsynced data. Tracking must be on for power_loss().
    virtual void set_track_unsynced(bool on) = 0;

    virtual FaultFsCounters counters() const = 0;

    // Applies the power-loss model to everything tracked, then stops tracking. Call it after
    // the programs using the directory have exited. Returns Errc::io when a revert fails.
    [[nodiscard]] virtual Status power_loss() = 0;

    // Unmounts and stops the session threads. Idempotent.
    [[nodiscard]] virtual Status unmount() = 0;
};

}  // namespace shipshape::faults
