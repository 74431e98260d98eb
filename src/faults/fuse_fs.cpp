// FaultFs on libfuse3's high-level (path-based) API. Every request is served relative to a
// directory fd opened on the mount point before the mount, so it reaches the original directory
// underneath; nothing here ever resolves a path through the mount itself (that would re-enter
// this daemon).
//
// Caching choices, all so that a fault reaches the program that caused the request:
// - every file is opened with direct_io, so each read(2)/write(2) becomes a request here instead
//   of being absorbed by the page cache (kernel_cache and auto_cache stay off), and counters and
//   fault rates are per call. The price: unless libfuse >= 3.16 can negotiate
//   FUSE_CAP_DIRECT_IO_ALLOW_MMAP, the kernel refuses MAP_SHARED mmap of these files with ENODEV
//   (SQLite in WAL mode, which maps its -shm file, then fails with "disk I/O error");
// - attribute, entry and negative timeouts are 0, so the view always matches the directory
//   underneath, also right after power_loss() rewrote it.
//
// Locking: counters and fault settings are atomics. While unsynced data is tracked, each change
// the power-loss model records (its snapshot, the change itself, the bookkeeping) runs under
// m_track_mutex, so a write racing an fsync of the same file is never counted on the wrong side.
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

namespace shipshape::faults {
namespace {

// How long unmount() lets programs that still hold files in the directory finish before it
// aborts the FUSE connection (their remaining requests then fail with ENOTCONN).
constexpr std::chrono::seconds k_busy_grace{5};
constexpr unsigned k_max_threads = 16;

// libfuse reports mount problems through a process-wide log function that prints to stderr by
// default; the library must not print, so the last message of each thread is kept instead and
// becomes part of the Error that mount() returns.
thread_local std::string t_fuse_message;

__attribute__((format(printf, 2, 0))) void keep_fuse_message(enum fuse_log_level /*level*/,
                                                             const char* fmt, va_list args) {
    char text[512];
    if (std::vsnprintf(text, sizeof text, fmt, args) < 0) {
        return;
    }
    t_fuse_message = text;
    while (!t_fuse_message.empty() && t_fuse_message.back() == '\n') {
        t_fuse_message.pop_back();
    }
}

// Whether this thread may mount (CAP_SYS_ADMIN in its user namespace). Checked up front because
// a refused mount(2) makes libfuse fall back to running fusermount3, which prints.
bool may_mount() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("CapEff:")) {
            unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
            return ((caps >> 21) & 1) != 0;  // CAP_SYS_ADMIN is capability 21
        }
    }
    return true;  // no /proc: let mount(2) decide
}

// xorshift64*, one state per thread: cheap and plenty random to pick which requests fail.
bool chance(unsigned percent) {
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
const char* rel(const char* path) {
    return path[1] == '\0' ? "." : path + 1;
}

int fd_of(const fuse_file_info* fi) {
    return static_cast<int>(fi->fh);
}

int result(int rc) {
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

void* init(fuse_conn_info* conn, fuse_config* cfg) {
    cfg->use_ino = 1;
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->kernel_cache = 0;
    cfg->auto_cache = 0;
    cfg->direct_io = 1;
    // Unlink really unlinks (no .fuse_hidden files left in the directory underneath); open
    // handles keep working because every handler with a handle uses its fd, not the path.
    cfg->hard_remove = 1;
    if ((conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) != 0) {
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    }
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
#ifdef FUSE_CAP_DIRECT_IO_ALLOW_MMAP
    // libfuse >= 3.16 with Linux >= 6.6: shared mmap works despite direct_io (see the top).
    if ((conn->capable & FUSE_CAP_DIRECT_IO_ALLOW_MMAP) != 0) {
        conn->want |= FUSE_CAP_DIRECT_IO_ALLOW_MMAP;
    }
#endif
    return fuse_get_context()->private_data;
}

const fuse_operations& operations() {
    static const fuse_operations ops = [] {
        using F = FuseFaultFs;
        fuse_operations o{};
        o.init = &init;
        o.getattr = &Request<&F::op_getattr>::serve;
        o.readlink = &Request<&F::op_readlink>::serve;
        o.mknod = &Request<&F::op_mknod>::serve;
        o.mkdir = &Request<&F::op_mkdir>::serve;
        o.unlink = &Request<&F::op_unlink>::serve;
        o.rmdir = &Request<&F::op_rmdir>::serve;
        o.symlink = &Request<&F::op_symlink>::serve;
        o.rename = &Request<&F::op_rename>::serve;
        o.link = &Request<&F::op_link>::serve;
        o.chmod = &Request<&F::op_chmod>::serve;
        o.chown = &Request<&F::op_chown>::serve;
        o.truncate = &Request<&F::op_truncate>::serve;
        o.open = &Request<&F::op_open>::serve;
        o.read = &Request<&F::op_read>::serve;
        o.write = &Request<&F::op_write>::serve;
        o.statfs = &Request<&F::op_statfs>::serve;
        o.flush = &Request<&F::op_flush>::serve;
        o.release = &Request<&F::op_release>::serve;
        o.fsync = &Request<&F::op_fsync>::serve;
        o.opendir = &Request<&F::op_opendir>::serve;
        o.readdir = &Request<&F::op_readdir>::serve;
        o.releasedir = &Request<&F::op_releasedir>::serve;
        o.fsyncdir = &Request<&F::op_fsyncdir>::serve;
        o.access = &Request<&F::op_access>::serve;
        o.create = &Request<&F::op_create>::serve;
        o.utimens = &Request<&F::op_utimens>::serve;
        o.fallocate = &Request<&F::op_fallocate>::serve;
        return o;
    }();
    return ops;
}

// ---- lifecycle ----

Status FuseFaultFs::start() {
    static std::once_flag log_installed;
    std::call_once(log_installed, [] { fuse_set_log_func(&keep_fuse_message); });
    t_fuse_message.clear();

    fuse_args args = FUSE_ARGS_INIT(0, nullptr);
    // allow_other: programs under other users (a service account) may use the directory too;
    // default_permissions makes the kernel check modes as it would without FUSE.
    for (const char* arg :
         {"shipshape", "-o", "default_permissions,allow_other,fsname=shipshape,subtype=faultfs"}) {
        SHIPSHAPE_ASSERT(fuse_opt_add_arg(&args, arg) == 0);
    }
    m_fuse = fuse_new(&args, &operations(), sizeof(fuse_operations), this);
    fuse_opt_free_args(&args);
    if (m_fuse == nullptr) {
        return fail(Errc::io, "creating the FUSE session: " + t_fuse_message);
    }
    if (fuse_mount(m_fuse, m_path.c_str()) != 0) {
        fuse_destroy(m_fuse);
        m_fuse = nullptr;
        const std::string& why = t_fuse_message;
        bool refused = why.find("not permitted") != std::string::npos ||
                       why.find("denied") != std::string::npos ||
                       why.find("No such device") != std::string::npos;
        return fail(refused ? Errc::unsupported : Errc::io,
                    why.empty() ? std::string("mount failed") : why);
    }
    m_session_end = m_session_ended.get_future();
    m_session = std::thread([this] {
        // The host program's signal handlers must not run on session threads; the threads
        // libfuse starts inherit this mask.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        fuse_loop_config* config = fuse_loop_cfg_create();
        SHIPSHAPE_ASSERT(config != nullptr);
        fuse_loop_cfg_set_max_threads(config, k_max_threads);
        (void)fuse_loop_mt(m_fuse, config);
        fuse_loop_cfg_destroy(config);
        m_session_ended.set_value();
    });
    // The first stat through the mount waits for the kernel's INIT handshake and a round trip
    // through the session, so the mount is live when we return.
    struct stat st;
    if (::stat(m_path.c_str(), &st) != 0) {
        int err = errno;
        (void)unmount();
        return fail(Errc::io, os::errno_error("checking the new mount", err).message());
    }
    m_fuse_dev = st.st_dev;
    return {};
}

Status FuseFaultFs::unmount() {
    std::lock_guard lock(m_lifecycle_mutex);
    if (!m_session.joinable()) {
        return {};
    }
    Status status;
    // Detaching ends the connection once nobody uses the file system any more; that makes the
    // session loop return. EINVAL: someone else already unmounted it.
    if (::umount2(m_path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
        int err = errno;
        status = fail(Errc::io,
                      os::errno_error("unmounting FaultFs from '" + m_path + "'", err).message());
    }
    if (m_session_end.wait_for(k_busy_grace) != std::future_status::ready) {
        abort_connection();
    }
    m_session.join();
    // The connection is gone, so this only closes the device fd (libfuse sees POLLERR on it).
    fuse_unmount(m_fuse);
    fuse_destroy(m_fuse);
    m_fuse = nullptr;
    return status;
}

// Aborts the connection through fusectl: /sys/fs/fuse/connections/<device>/abort. When fusectl
// is not mounted there it is mounted on a temporary directory for the moment. If that fails too,
// unmount() waits until the last program closes its files.
void FuseFaultFs::abort_connection() {
    std::string name = std::to_string((major(m_fuse_dev) << 20) | minor(m_fuse_dev));
    auto write_abort = [&name](const std::string& root) {
        int fd = ::open((root + "/" + name + "/abort").c_str(), O_WRONLY | O_CLOEXEC);
        bool done = fd >= 0 && ::write(fd, "1", 1) == 1;
        if (fd >= 0) {
            ::close(fd);
        }
        return done;
    };
    if (write_abort("/sys/fs/fuse/connections")) {
        return;
    }
    char dir[] = "/tmp/shipshape-fusectl-XXXXXX";
    if (::mkdtemp(dir) == nullptr) {
        return;
    }
    if (::mount("fusectl", dir, "fusectl", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0) {
        (void)write_abort(dir);
        ::umount2(dir, MNT_DETACH);
    }
    ::rmdir(dir);
}

FaultFsCounters FuseFaultFs::counters() const {
    FaultFsCounters c;
    c.reads = m_counts.reads.load();
    c.writes = m_counts.writes.load();
    c.fsyncs = m_counts.fsyncs.load();
    c.eio_reads = m_counts.eio_reads.load();
    c.eio_writes = m_counts.eio_writes.load();
    c.eio_fsyncs = m_counts.eio_fsyncs.load();
    c.delayed = m_counts.delayed.load();
    c.enospc = m_counts.enospc.load();
    c.lost_files = m_counts.lost_files.load();
    c.lost_bytes = m_counts.lost_bytes.load();
    return c;
}

// ---- power-loss model ----

// Returns a held lock while tracking is on, an empty one otherwise.
std::unique_lock<std::mutex> FuseFaultFs::lock_tracking() {
    std::unique_lock lock(m_track_mutex, std::defer_lock);
    if (m_tracking.load()) {
        lock.lock();
        if (!m_tracking.load()) {
            lock.unlock();
        }
    }
    return lock;
}

// Reads the whole file into memory. Large files are copied in full too (the model needs their
// content), so tracking costs the size of every file changed since its last sync. Anything but
// a regular file counts as absent: only files are tracked.
tl::expected<Snapshot, int> FuseFaultFs::read_snapshot(const std::string& path) const {
    Snapshot snapshot;
    int fd = ::openat(m_dirfd, path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ELOOP) {
            return snapshot;
        }
        return tl::unexpected(errno);
    }
    struct stat st;
    int err = ::fstat(fd, &st) != 0 ? errno : 0;
    if (err == 0 && S_ISREG(st.st_mode)) {
        snapshot.existed = true;
        snapshot.mode = st.st_mode & 07777;
        char buf[65536];
        ssize_t n = 0;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) {
            snapshot.content.append(buf, static_cast<size_t>(n));
        }
        err = n < 0 ? errno : 0;
    }
    ::close(fd);
    if (err != 0) {
        return tl::unexpected(err);
    }
    return snapshot;
}

// Before the first change to `path` since its last sync, keeps what power loss returns it to.
// Returns 0, or -errno when the current content cannot be read: the change is then refused,
// since it could not be undone.
int FuseFaultFs::remember(const char* path) {
    std::string key = rel(path);
    if (m_unsynced.contains(key)) {
        return 0;
    }
    auto snapshot = read_snapshot(key);
    if (!snapshot) {
        return -snapshot.error();
    }
    m_unsynced.emplace(std::move(key), std::move(*snapshot));
    return 0;
}

// Removes and returns the entries for `root` and everything below it, keyed relative to root
// ("" for root itself).
std::vector<std::pair<std::string, Snapshot>> FuseFaultFs::take_tree(const std::string& root) {
    std::vector<std::pair<std::string, Snapshot>> taken;
    if (auto it = m_unsynced.find(root); it != m_unsynced.end()) {
        taken.emplace_back("", std::move(it->second));
        m_unsynced.erase(it);
    }
    std::string prefix = root + "/";
    auto it = m_unsynced.lower_bound(prefix);
    while (it != m_unsynced.end() && it->first.starts_with(prefix)) {
        taken.emplace_back(it->first.substr(root.size()), std::move(it->second));
        it = m_unsynced.erase(it);
    }
    return taken;
}

void FuseFaultFs::put_tree(const std::string& root,
                           std::vector<std::pair<std::string, Snapshot>>&& entries) {
    for (auto& [suffix, snapshot] : entries) {
        m_unsynced.insert_or_assign(root + suffix, std::move(snapshot));
    }
}

Status FuseFaultFs::power_loss() {
    std::lock_guard lock(m_track_mutex);
    m_tracking.store(false);
    std::map<std::string, Snapshot> entries = std::exchange(m_unsynced, {});
    Status status;
    for (auto& [path, snapshot] : entries) {
        Status reverted = revert(path, snapshot);
        if (!reverted && status) {
            status = reverted;
        }
    }
    return status;
}

// Puts one file back; counts it only if that changed something.
Status FuseFaultFs::revert(const std::string& path, Snapshot& snapshot) {
    auto io_error = [&path](int err) {
        return fail(Errc::io,
                    os::errno_error("power loss: reverting '" + path + "'", err).message());
    };
    if (!snapshot.existed) {
        if (::unlinkat(m_dirfd, path.c_str(), 0) != 0) {
            return errno == ENOENT ? Status{} : io_error(errno);
        }
    } else {
        auto current = read_snapshot(path);
        if (current && current->existed && current->content == snapshot.content) {
            return {};
        }
        int fd = ::openat(m_dirfd, path.c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, snapshot.mode);
        if (fd < 0) {
            return io_error(errno);
        }
        std::string_view rest = snapshot.content;
        while (!rest.empty()) {
            ssize_t n = ::write(fd, rest.data(), rest.size());
            if (n < 0) {
                int err = errno;
                ::close(fd);
                return io_error(err);
            }
            rest.remove_prefix(static_cast<size_t>(n));
        }
        int err = ::fsync(fd) != 0 ? errno : 0;
        ::close(fd);
        if (err != 0) {
            return io_error(err);
        }
    }
    ++m_counts.lost_files;
    m_counts.lost_bytes += snapshot.unsynced_bytes;
    return {};
}

// ---- handlers ----

// This daemon creates files as root; a new file goes to the requesting user, keeping the group
// that a set-group-id parent imposed, as the kernel would have done for that user. Best effort:
// a file system that refuses chown leaves the file to root.
void FuseFaultFs::give_to_caller(const char* path) {
    const fuse_context* ctx = fuse_get_context();
    if (ctx->uid == ::geteuid() && ctx->gid == ::getegid()) {
        return;
    }
    std::string child = rel(path);
    size_t slash = child.rfind('/');
    std::string parent = slash == std::string::npos ? "." : child.substr(0, slash);
    struct stat st;
    bool setgid_parent =
        ::fstatat(m_dirfd, parent.c_str(), &st, 0) == 0 && (st.st_mode & S_ISGID) != 0;
    (void)::fchownat(m_dirfd, child.c_str(), ctx->uid,
                     setgid_parent ? static_cast<gid_t>(-1) : ctx->gid, AT_SYMLINK_NOFOLLOW);
}

int FuseFaultFs::op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
    if (fi != nullptr) {
        return result(::fstat(fd_of(fi), st));
    }
    return result(::fstatat(m_dirfd, rel(path), st, AT_SYMLINK_NOFOLLOW));
}

int FuseFaultFs::op_readlink(const char* path, char* buf, size_t size) {
    ssize_t n = ::readlinkat(m_dirfd, rel(path), buf, size - 1);
    if (n < 0) {
        return -errno;
    }
    buf[n] = '\0';
    return 0;
}

int FuseFaultFs::op_mknod(const char* path, mode_t mode, dev_t rdev) {
    auto lock = lock_tracking();
    if (lock.owns_lock() && S_ISREG(mode)) {
        if (int rc = remember(path); rc < 0) {
            return rc;
        }
    }
    if (::mknodat(m_dirfd, rel(path), mode, rdev) != 0) {
        return -errno;
    }
    give_to_caller(path);
    return 0;
}

int FuseFaultFs::op_mkdir(const char* path, mode_t mode) {
    if (::mkdirat(m_dirfd, rel(path), mode) != 0) {
        return -errno;
    }
    give_to_caller(path);
    return 0;
}

// Unlinks and rmdirs are kept by power loss: metadata counts as journaled.
int FuseFaultFs::op_unlink(const char* path) {
    auto lock = lock_tracking();
    if (::unlinkat(m_dirfd, rel(path), 0) != 0) {
        return -errno;
    }
    if (lock.owns_lock()) {
        m_unsynced.erase(rel(path));
    }
    return 0;
}

int FuseFaultFs::op_rmdir(const char* path) {
    auto lock = lock_tracking();
    if (::unlinkat(m_dirfd, rel(path), AT_REMOVEDIR) != 0) {
        return -errno;
    }
    if (lock.owns_lock()) {
        (void)take_tree(rel(path));
    }
    return 0;
}

int FuseFaultFs::op_symlink(const char* target, const char* path) {
    if (::symlinkat(target, m_dirfd, rel(path)) != 0) {
        return -errno;
    }
    give_to_caller(path);
    return 0;
}

// Renames follow the power-loss model: a synced file or a directory moves for good (its tracked
// entries move with it); an unsynced file that replaces an existing one is undone by power loss
// (the destination gets its old content back and the source path its own, if it had any); an
// unsynced file moved to a free name keeps its snapshot there. RENAME_EXCHANGE swaps entries.
int FuseFaultFs::op_rename(const char* from, const char* to, unsigned flags) {
    auto lock = lock_tracking();
    std::string src = rel(from);
    std::string dst = rel(to);
    std::optional<Snapshot> replaced;
    bool src_unsynced = lock.owns_lock() && m_unsynced.contains(src);
    if (src_unsynced && (flags & RENAME_EXCHANGE) == 0) {
        if (auto it = m_unsynced.find(dst); it != m_unsynced.end()) {
            replaced = it->second;
        } else {
            auto snapshot = read_snapshot(dst);
            if (!snapshot) {
                return -snapshot.error();
            }
            if (snapshot->existed) {
                replaced = std::move(*snapshot);
            }
        }
    }
    if (::renameat2(m_dirfd, src.c_str(), m_dirfd, dst.c_str(), flags) != 0) {
        return -errno;
    }
    if (!lock.owns_lock()) {
        return 0;
    }
    if ((flags & RENAME_EXCHANGE) != 0) {
        auto at_src = take_tree(src);
        put_tree(src, take_tree(dst));
        put_tree(dst, std::move(at_src));
        return 0;
    }
    if (!src_unsynced) {
        (void)take_tree(dst);
        put_tree(dst, take_tree(src));
        return 0;
    }
    Snapshot moved = std::move(m_unsynced.at(src));
    m_unsynced.erase(src);
    if (replaced) {
        replaced->unsynced_bytes += moved.unsynced_bytes;
        m_unsynced.insert_or_assign(dst, std::move(*replaced));
        if (moved.existed) {
            moved.unsynced_bytes = 0;
            m_unsynced.insert_or_assign(src, std::move(moved));
        }
    } else {
        m_unsynced.insert_or_assign(dst, std::move(moved));
    }
    return 0;
}

int FuseFaultFs::op_link(const char* from, const char* to) {
    return result(::linkat(m_dirfd, rel(from), m_dirfd, rel(to), 0));
}

int FuseFaultFs::op_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
    if (fi != nullptr) {
        return result(::fchmod(fd_of(fi), mode));
    }
    return result(::fchmodat(m_dirfd, rel(path), mode, 0));
}

int FuseFaultFs::op_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
    if (fi != nullptr) {
        return result(::fchown(fd_of(fi), uid, gid));
    }
    return result(::fchownat(m_dirfd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW));
}

int FuseFaultFs::op_truncate(const char* path, off_t size, fuse_file_info* fi) {
    auto lock = lock_tracking();
    if (lock.owns_lock() && path != nullptr) {
        if (int rc = remember(path); rc < 0) {
            return rc;
        }
    }
    if (fi != nullptr) {
        return result(::ftruncate(fd_of(fi), size));
    }
    int fd = ::openat(m_dirfd, rel(path), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = result(::ftruncate(fd, size));
    ::close(fd);
    return rc;
}

// O_DIRECT is dropped: the kernel already sends each of the caller's reads and writes here
// (direct_io), and our buffers carry no alignment guarantee.
int FuseFaultFs::op_open(const char* path, fuse_file_info* fi) {
    auto lock = lock_tracking();
    if (lock.owns_lock() && (fi->flags & O_TRUNC) != 0) {
        if (int rc = remember(path); rc < 0) {
            return rc;
        }
    }
    int fd = ::openat(m_dirfd, rel(path), (fi->flags & ~O_DIRECT) | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    fi->fh = static_cast<uint64_t>(fd);
    fi->direct_io = 1;
    fi->keep_cache = 0;
    return 0;
}

int FuseFaultFs::op_create(const char* path, mode_t mode, fuse_file_info* fi) {
    auto lock = lock_tracking();
    if (lock.owns_lock()) {
        if (int rc = remember(path); rc < 0) {
            return rc;
        }
    }
    int fd = ::openat(m_dirfd, rel(path), (fi->flags & ~O_DIRECT) | O_CREAT | O_CLOEXEC, mode);
    if (fd < 0) {
        return -errno;
    }
    give_to_caller(path);
    fi->fh = static_cast<uint64_t>(fd);
    fi->direct_io = 1;
    fi->keep_cache = 0;
    return 0;
}

int FuseFaultFs::op_read(const char* /*path*/, char* buf, size_t size, off_t off,
                         fuse_file_info* fi) {
    ++m_counts.reads;
    if (inject(io_read)) {
        ++m_counts.eio_reads;
        return -EIO;
    }
    ssize_t n = ::pread(fd_of(fi), buf, size, off);
    return n < 0 ? -errno : static_cast<int>(n);
}

// A write through an O_SYNC/O_DSYNC handle (or with RWF_DSYNC) is durable when it returns, so
// it counts as a sync of the file.
int FuseFaultFs::op_write(const char* path, const char* buf, size_t size, off_t off,
                          fuse_file_info* fi) {
    ++m_counts.writes;
    if (inject(io_write)) {
        ++m_counts.eio_writes;
        return -EIO;
    }
    auto lock = lock_tracking();
    bool track = lock.owns_lock() && path != nullptr;
    if (track) {
        if (int rc = remember(path); rc < 0) {
            return rc;
        }
    }
    ssize_t n = ::pwrite(fd_of(fi), buf, size, off);
    if (n < 0) {
        return -errno;
    }
    if (track) {
        if ((fi->flags & O_DSYNC) != 0) {
            m_unsynced.erase(rel(path));
        } else {
            m_unsynced.at(rel(path)).unsynced_bytes += static_cast<uint64_t>(n);
        }
    }
    return static_cast<int>(n);
}

int FuseFaultFs::op_statfs(const char* /*path*/, struct statvfs* st) {
    return result(::fstatvfs(m_dirfd, st));
}

// Closing a duplicate reports errors that some file systems only give at close.
int FuseFaultFs::op_flush(const char* /*path*/, fuse_file_info* fi) {
    int fd = ::dup(fd_of(fi));
    if (fd < 0) {
        return -errno;
    }
    return result(::close(fd));
}

int FuseFaultFs::op_release(const char* /*path*/, fuse_file_info* fi) {
    ::close(fd_of(fi));
    return 0;
}

int FuseFaultFs::op_fsync(const char* path, int datasync, fuse_file_info* fi) {
    ++m_counts.fsyncs;
    if (inject(io_fsync)) {
        ++m_counts.eio_fsyncs;
        return -EIO;
    }
    auto lock = lock_tracking();
    if ((datasync != 0 ? ::fdatasync(fd_of(fi)) : ::fsync(fd_of(fi))) != 0) {
        return -errno;
    }
    if (lock.owns_lock() && path != nullptr) {
        m_unsynced.erase(rel(path));
    }
    return 0;
}

int FuseFaultFs::op_opendir(const char* path, fuse_file_info* fi) {
    int fd = ::openat(m_dirfd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    fi->fh = static_cast<uint64_t>(fd);
    return 0;
}

// Lists the whole directory in one call (libfuse's offset-0 mode; it calls again on rewinddir),
// from a fresh descriptor so repeated listings see the current entries.
int FuseFaultFs::op_readdir(const char* /*path*/, void* buf, fuse_fill_dir_t fill, off_t /*off*/,
                            fuse_file_info* fi, fuse_readdir_flags /*flags*/) {
    int fd = ::openat(fd_of(fi), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
        int err = errno;
        ::close(fd);
        return -err;
    }
    int err = 0;
    while (true) {
        errno = 0;
        const dirent* entry = ::readdir(dir);
        if (entry == nullptr) {
            err = errno;
            break;
        }
        struct stat st {};
        st.st_ino = entry->d_ino;
        st.st_mode = static_cast<mode_t>(DTTOIF(entry->d_type));
        if (fill(buf, entry->d_name, &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) {
            break;  // libfuse's buffer is full (out of memory)
        }
    }
    ::closedir(dir);
    return -err;
}

int FuseFaultFs::op_releasedir(const char* /*path*/, fuse_file_info* fi) {
    ::close(fd_of(fi));
    return 0;
}

int FuseFaultFs::op_fsyncdir(const char* /*path*/, int datasync, fuse_file_info* fi) {
    ++m_counts.fsyncs;
    if (inject(io_fsync)) {
        ++m_counts.eio_fsyncs;
        return -EIO;
    }
    return result(datasync != 0 ? ::fdatasync(fd_of(fi)) : ::fsync(fd_of(fi)));
}

int FuseFaultFs::op_access(const char* path, int mask) {
    return result(::faccessat(m_dirfd, rel(path), mask, 0));
}

int FuseFaultFs::op_utimens(const char* path, const struct timespec ts[2], fuse_file_info* fi) {
    if (fi != nullptr) {
        return result(::futimens(fd_of(fi), ts));
    }
    return result(::utimensat(m_dirfd, rel(path), ts, AT_SYMLINK_NOFOLLOW));
}

int FuseFaultFs::op_fallocate(const char* path, int mode, off_t off, off_t len,
                              fuse_file_info* fi) {
    auto lock = lock_tracking();
    if (lock.owns_lock() && path != nullptr) {
        if (int rc = remember(path); rc < 0) {
            return rc;
        }
    }
    return result(::fallocate(fd_of(fi), mode, off, len));
}

}  // namespace

Result<std::unique_ptr<FaultFs>> FaultFs::mount(const std::string& path) {
    std::string what = "mounting FaultFs over '" + path + "'";
    int dirfd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        Error error = os::errno_error(what, errno);
        return fail(error.code() == Errc::not_found ? error : Error(Errc::io, error.message()));
    }
    int device = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (device < 0) {
        int err = errno;
        ::close(dirfd);
        return fail(
            Errc::unsupported,
            what + (err == ENOENT ? ": no /dev/fuse"
                                  : ": cannot open /dev/fuse: " + std::string(std::strerror(err))));
    }
    ::close(device);
    if (!may_mount()) {
        ::close(dirfd);
        return fail(Errc::unsupported, what + ": mounting needs CAP_SYS_ADMIN");
    }
    auto fs = std::make_unique<FuseFaultFs>(path, dirfd);
    if (Status started = fs->start(); !started) {
        return fail(started.error().context(what));
    }
    return std::unique_ptr<FaultFs>(std::move(fs));
}

}  // namespace shipshape::faults
