// The storage kinds' mechanisms: a size-limited tmpfs holding a copy of the directory
// (disk-full) and the FUSE fault file system over it (io-error, slow-io, lose-unsynced).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "faults/engine.hpp"
#include "faults/mechanisms.hpp"
#include "os/errno_error.hpp"

namespace shipshape::faults {

namespace {

// --- disk-full: tmpfs ---------------------------------------------------------------------

Result<std::string> setup_tmpfs(MechanismState& s, int, const Fault& f) {
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return fail(Errc::invalid_argument,
                    f.origin + ": " + f.path + " must be an existing directory");
    }
    int original = ::open(f.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (original < 0) {
        return fail(os::errno_error(f.origin + ": opening " + f.path, errno));
    }
    if (::mount("shipshape-fault", f.path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") !=
        0) {
        int err = errno;
        ::close(original);
        return fail(Errc::unsupported,
                    os::errno_error(f.origin + ": mounting a tmpfs on " + f.path, err).message());
    }
    // The directory's content is copied in, so the program finds what it expects; what it
    // writes stays in the sandbox.
    int inherit = ::fcntl(original, F_DUPFD, 100);
    ::close(original);
    // In a user namespace the original owners are unmapped and cannot be kept.
    std::vector<std::string> cp = {"cp", "-a"};
    if (::access("/proc/self/uid_map", R_OK) == 0 && ::geteuid() == 0 &&
        std::getenv("SHIPSHAPE_FAULT_USERNS")) {
        cp.emplace_back("--no-preserve=ownership");
    }
    cp.push_back("/proc/self/fd/" + std::to_string(inherit) + "/.");
    cp.push_back(f.path + "/");
    auto copied = run_tool(cp);
    ::close(inherit);
    if (!copied) {
        return fail(Errc::io, f.origin + ": copying " + f.path +
                                  " into its tmpfs: " + copied.error().message());
    }
    MechanismState::Tmpfs t;
    t.path = f.path;
    t.size = f.bytes;
    // Kept so the tmpfs can be measured and resized even after a FUSE layer covers the path.
    t.fd = ::open(f.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    s.tmpfs.emplace(f.path, t);
    return std::string("tmpfs size limit");
}

Status set_tmpfs(MechanismState& s, int, const Fault& f, bool on) {
    auto& t = s.tmpfs.at(f.path);
    std::string size = "size=50%";
    if (on) {
        struct statvfs vfs {};
        ::fstatvfs(t.fd, &vfs);
        uint64_t used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
        uint64_t limit = std::max(t.size, used);
        limit = (limit + 4095) / 4096 * 4096;
        size = "size=" + std::to_string(limit);
    }
    std::string target = "/proc/self/fd/" + std::to_string(t.fd);
    if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV,
                size.c_str()) != 0) {
        return fail(os::errno_error("resizing the tmpfs on " + t.path, errno));
    }
    t.limited = on;
    return {};
}

void report_tmpfs(MechanismState& s, int, const Fault& f, FaultOutcome& out) {
    auto it = s.tmpfs.find(f.path);
    if (it != s.tmpfs.end()) {
        out.counts.emplace_back("size_bytes", it->second.size);
        out.counts.emplace_back("peak_used_bytes", it->second.peak_used);
        out.counts.emplace_back("full_samples", it->second.full_samples);
        out.fired = it->second.full_samples > 0;
    }
    if (s.fs.count(f.path) || s.fs_final.count(f.path)) {
        auto c = s.fs_counters(f.path);
        out.counts.emplace_back("enospc_errors", c.enospc);
        out.fired = out.fired || c.enospc > 0;
    } else {
        out.note = "full = free space under 8 KiB in a sample taken every 10 ms";
    }
}

// --- io-error, slow-io, lose-unsynced: FUSE -----------------------------------------------

Result<std::string> setup_fuse(MechanismState& s, int, const Fault& f) {
    auto it = s.fs.find(f.path);
    if (it == s.fs.end()) {
        struct stat st {};
        if (::stat(f.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            return fail(Error(Errc::invalid_argument, f.path + " must be an existing directory")
                            .context(f.origin));
        }
        auto fs = FaultFs::mount(f.path);
        if (!fs) {
            return fail(fs.error().context(f.origin));
        }
        it = s.fs.emplace(f.path, std::move(*fs)).first;
    }
    if (f.kind == FaultKind::lose_unsynced) {
        it->second->set_track_unsynced(true);
    }
    return std::string("FUSE");
}

Status set_io_error(MechanismState& s, int, const Fault& f, bool on) {
    s.fs.at(f.path)->set_io_error(on ? f.percent : 0, f.ops);
    return {};
}

void report_io_error(MechanismState& s, int, const Fault& f, FaultOutcome& out) {
    auto c = s.fs_counters(f.path);
    out.counts.emplace_back("reads", c.reads);
    out.counts.emplace_back("writes", c.writes);
    out.counts.emplace_back("fsyncs", c.fsyncs);
    out.counts.emplace_back("eio_reads", c.eio_reads);
    out.counts.emplace_back("eio_writes", c.eio_writes);
    out.counts.emplace_back("eio_fsyncs", c.eio_fsyncs);
    out.fired = c.eio_reads + c.eio_writes + c.eio_fsyncs > 0;
}

Status set_slow_io(MechanismState& s, int, const Fault& f, bool on) {
    s.fs.at(f.path)->set_delay(on ? f.delay : Millis(0));
    return {};
}

void report_slow_io(MechanismState& s, int, const Fault& f, FaultOutcome& out) {
    auto c = s.fs_counters(f.path);
    out.counts.emplace_back("operations_delayed", c.delayed);
    out.fired = c.delayed > 0;
}

// In effect from the start; the loss itself happens at the end.
Status set_nothing(MechanismState&, int, const Fault&, bool) {
    return {};
}

void report_lose_unsynced(MechanismState& s, int, const Fault& f, FaultOutcome& out) {
    auto c = s.fs_counters(f.path);
    out.counts.emplace_back("files_lost", c.lost_files);
    out.counts.emplace_back("bytes_lost", c.lost_bytes);
    out.counts.emplace_back("fsyncs", c.fsyncs);
    out.fired = c.lost_files > 0;
}

Status lose_unsynced_at_end(MechanismState& s, const Fault& f) {
    return s.fs.at(f.path)->power_loss();
}

}  // namespace

const Mechanism k_disk_full_mechanism{FaultKind::disk_full, setup_tmpfs, set_tmpfs, report_tmpfs,
                                      nullptr};
const Mechanism k_io_error_mechanism{FaultKind::io_error, setup_fuse, set_io_error, report_io_error,
                                     nullptr};
const Mechanism k_slow_io_mechanism{FaultKind::slow_io, setup_fuse, set_slow_io, report_slow_io,
                                    nullptr};
const Mechanism k_lose_unsynced_mechanism{FaultKind::lose_unsynced, setup_fuse, set_nothing,
                                          report_lose_unsynced, lose_unsynced_at_end};

}  // namespace shipshape::faults
