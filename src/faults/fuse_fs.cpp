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
#include "faults/fuse_fs_impl.hpp"

#include <sys/mount.h>

#include "os/file_system.hpp"

namespace shipshape::faults {
namespace fuse_impl {
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
    auto status = os::read_whole_file("/proc/self/status");
    auto at = status ? status->find("\nCapEff:") : std::string::npos;
    if (at == std::string::npos) {
        return true;  // no /proc: let mount(2) decide
    }
    unsigned long long caps = std::strtoull(status->c_str() + at + 8, nullptr, 16);
    return ((caps >> 21) & 1) != 0;  // CAP_SYS_ADMIN is capability 21
}

}  // namespace

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

}  // namespace fuse_impl

using fuse_impl::FuseFaultFs;
using fuse_impl::may_mount;

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
