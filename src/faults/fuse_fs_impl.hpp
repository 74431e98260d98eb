// Internal to FaultFs (fuse_fs.cpp: lifecycle, power-loss model, mount; fuse_fs_ops.cpp: the
// request handlers): the implementation class on libfuse3's high-level API. See fuse_fs.cpp for
// the caching and locking choices.
#pragma once

#define FUSE_USE_VERSION 314
#include "faults/fuse_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fuse.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "core/assert.hpp"
#include "os/errno_error.hpp"

namespace shipshape::faults::fuse_impl {

// xorshift64*, one state per thread: cheap and plenty random to pick which requests fail.
inline bool chance(unsigned percent) {
    thread_local uint64_t state = [] {
        std::random_device device;
        uint64_t seed = (static_cast<uint64_t>(device()) << 32) ^ device();
        return seed != 0 ? seed : 0x9E3779B97F4A7C15ULL;
    }();
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return ((state * 0x2545F4914F6CDD1DULL) >> 32) % 100 < percent;
}

// FUSE paths are absolute within the mount ("/", "/a/b"); the directory underneath is reached
// relative to the directory fd, where the root is ".".
inline const char* rel(const char* path) {
    return path[1] == '\0' ? "." : path + 1;
}

inline int fd_of(const fuse_file_info* fi) {
    return static_cast<int>(fi->fh);
}

inline int result(int rc) {
    return rc < 0 ? -errno : 0;
}

// What power_loss() returns a file to.
struct Snapshot {
    bool existed = false;  // false: created while tracking, so power loss removes it
    std::string content;   // content at the last sync, or when tracking began
    mode_t mode = 0600;
    uint64_t unsynced_bytes = 0;  // written since then; reported as lost_bytes
};

struct AtomicCounters {
    std::atomic<uint64_t> reads{0}, writes{0}, fsyncs{0}, eio_reads{0}, eio_writes{0},
        eio_fsyncs{0}, delayed{0}, enospc{0}, lost_files{0}, lost_bytes{0};
};

template <auto Handler>
struct Request;

class FuseFaultFs final : public FaultFs {
  public:
    FuseFaultFs(std::string path, int dirfd) : m_path(std::move(path)), m_dirfd(dirfd) {}
    ~FuseFaultFs() override {
        (void)unmount();
        ::close(m_dirfd);
    }
    FuseFaultFs(const FuseFaultFs&) = delete;
    FuseFaultFs& operator=(const FuseFaultFs&) = delete;

    Status start();

    void set_io_error(unsigned percent, unsigned ops) override {
        m_io_error.store((std::min(percent, 100U) << 3) | (ops & io_all));
    }
    void set_delay(Millis delay) override {
        m_delay_ms.store(std::max<Millis::rep>(delay.count(), 0));
    }
    void set_track_unsynced(bool on) override {
        std::lock_guard lock(m_track_mutex);
        if (!on) {
            m_unsynced.clear();
        }
        m_tracking.store(on);
    }
    FaultFsCounters counters() const override;
    Status power_loss() override;
    Status unmount() override;

  private:
    template <auto Handler>
    friend struct Request;
    friend const fuse_operations& operations();

    // Per-request hooks around every handler.
    void before_request() {
        if (Millis::rep ms = m_delay_ms.load(); ms > 0) {
            std::this_thread::sleep_for(Millis(ms));
            ++m_counts.delayed;
        }
    }
    void after_request(int rc) {
        if (rc == -ENOSPC) {
            ++m_counts.enospc;
        }
    }
    bool inject(IoOp op) const {
        unsigned setting = m_io_error.load();
        return (setting & op) != 0 && chance(setting >> 3);
    }

    // Power-loss bookkeeping; the caller holds the lock from lock_tracking().
    std::unique_lock<std::mutex> lock_tracking();
    tl::expected<Snapshot, int> read_snapshot(const std::string& path) const;
    int remember(const char* path);
    std::vector<std::pair<std::string, Snapshot>> take_tree(const std::string& root);
    void put_tree(const std::string& root, std::vector<std::pair<std::string, Snapshot>>&& entries);
    Status revert(const std::string& path, Snapshot& snapshot);

    void give_to_caller(const char* path);
    void abort_connection();

    // libfuse handlers: each returns 0 (or a byte count) or -errno.
    int op_getattr(const char* path, struct stat* st, fuse_file_info* fi);
    int op_readlink(const char* path, char* buf, size_t size);
    int op_mknod(const char* path, mode_t mode, dev_t rdev);
    int op_mkdir(const char* path, mode_t mode);
    int op_unlink(const char* path);
    int op_rmdir(const char* path);
    int op_symlink(const char* target, const char* path);
    int op_rename(const char* from, const char* to, unsigned flags);
    int op_link(const char* from, const char* to);
    int op_chmod(const char* path, mode_t mode, fuse_file_info* fi);
    int op_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi);
    int op_truncate(const char* path, off_t size, fuse_file_info* fi);
    int op_open(const char* path, fuse_file_info* fi);
    int op_read(const char* path, char* buf, size_t size, off_t off, fuse_file_info* fi);
    int op_write(const char* path, const char* buf, size_t size, off_t off, fuse_file_info* fi);
    int op_statfs(const char* path, struct statvfs* st);
    int op_flush(const char* path, fuse_file_info* fi);
    int op_release(const char* path, fuse_file_info* fi);
    int op_fsync(const char* path, int datasync, fuse_file_info* fi);
    int op_opendir(const char* path, fuse_file_info* fi);
    int op_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t off, fuse_file_info* fi,
                   fuse_readdir_flags flags);
    int op_releasedir(const char* path, fuse_file_info* fi);
    int op_fsyncdir(const char* path, int datasync, fuse_file_info* fi);
    int op_access(const char* path, int mask);
    int op_create(const char* path, mode_t mode, fuse_file_info* fi);
    int op_utimens(const char* path, const struct timespec ts[2], fuse_file_info* fi);
    int op_fallocate(const char* path, int mode, off_t off, off_t len, fuse_file_info* fi);

    const std::string m_path;
    const int m_dirfd;
    fuse* m_fuse = nullptr;
    dev_t m_fuse_dev = 0;
    std::thread m_session;
    std::promise<void> m_session_ended;
    std::future<void> m_session_end;
    std::mutex m_lifecycle_mutex;

    std::atomic<unsigned> m_io_error{0};  // percent << 3 | IoOp bits
    std::atomic<Millis::rep> m_delay_ms{0};
    AtomicCounters m_counts;

    std::mutex m_track_mutex;
    std::atomic<bool> m_tracking{false};         // changed only under m_track_mutex
    std::map<std::string, Snapshot> m_unsynced;  // by path relative to m_dirfd
};

// Adapts a handler to the C callback libfuse calls: finds the file system, applies the delay
// fault, and counts ENOSPC on the way out.
template <typename... Args, int (FuseFaultFs::*Handler)(Args...)>
struct Request<Handler> {
    static int serve(Args... args) {
        auto* fs = static_cast<FuseFaultFs*>(fuse_get_context()->private_data);
        fs->before_request();
        int rc = (fs->*Handler)(args...);
        fs->after_request(rc);
        return rc;
    }
};

// The libfuse callback table (fuse_fs.cpp).
const fuse_operations& operations();

}  // namespace shipshape::faults::fuse_impl
