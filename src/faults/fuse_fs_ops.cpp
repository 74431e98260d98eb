// FaultFs's request handlers: each serves one libfuse request against the directory fd (never
// through the mount), applies the I/O-error fault where its operation is chosen, and feeds the
// power-loss model. See fuse_fs.cpp for the caching and locking choices.
#include "faults/fuse_fs_impl.hpp"

namespace shipshape::faults::fuse_impl {

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

}  // namespace shipshape::faults::fuse_impl
