// Resolving beneath a directory handle (see os/beneath.hpp): openat2 where the kernel has it,
// a per-component openat(O_NOFOLLOW) walk elsewhere and to name a refused component.
#include "os/beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <vector>

#include "os/errno_error.hpp"

namespace shipshape::os {

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        m_fd = other.release();
    }
    return *this;
}

Fd::~Fd() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

std::string read_link_at(int dirfd, const char* name) {
    std::string buf(4096, '\0');
    ssize_t n = ::readlinkat(dirfd, name, buf.data(), buf.size());
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
}

namespace {

// Set once the kernel said it has no openat2 (ENOSYS) or not our struct (E2BIG).
std::atomic<bool> g_no_openat2{false};

// openat2, or -1 with errno ENOSYS where the kernel has none.
int openat2_beneath(int root_fd, const std::string& rel, int flags, Follow follow) {
    if (g_no_openat2.load(std::memory_order_relaxed)) {
        errno = ENOSYS;
        return -1;
    }
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    if (follow == Follow::never) {
        how.resolve |= RESOLVE_NO_SYMLINKS;
    }
    for (;;) {
        long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how);
        if (fd >= 0) {
            return static_cast<int>(fd);
        }
        if (errno == EAGAIN || errno == EINTR) {
            continue;  // a concurrent rename raced the lookup: the kernel asks to retry
        }
        if (errno == ENOSYS || errno == E2BIG || errno == EPERM) {
            // EPERM: a seccomp filter that does not know openat2 (containers).
            g_no_openat2 = true;
            errno = ENOSYS;
        }
        return -1;
    }
}

std::string join_shown(std::string_view shown, std::string_view rel) {
    std::string out(shown);
    if (!out.empty() && out.back() != '/' && !rel.empty()) {
        out += '/';
    }
    out += rel;
    return out;
}

// Splits `rel` into its components ("." and empty ones dropped). False on "..".
bool split(std::string_view rel, std::vector<std::string>& parts) {
    size_t pos = 0;
    while (pos <= rel.size()) {
        size_t slash = rel.find('/', pos);
        size_t end = slash == std::string_view::npos ? rel.size() : slash;
        std::string_view part = rel.substr(pos, end - pos);
        if (part == "..") {
            return false;
        }
        if (!part.empty() && part != ".") {
            parts.emplace_back(part);
        }
        pos = end + 1;
    }
    return true;
}

std::string joined(const std::vector<std::string>& parts, size_t count) {
    std::string out;
    for (size_t i = 0; i < count; ++i) {
        if (i) {
            out += '/';
        }
        out += parts[i];
    }
    return out;
}

// Why `name` under `dirfd` could not be opened as what we wanted (errno `err`): a symlink or a
// non-directory is named as such; anything else is the OS's reason.
Error refusal(int dirfd, const std::string& name, const std::string& shown, int err,
              bool want_dir) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) {
            return Error(Errc::permission_denied,
                         shown + " is a symlink (-> " + read_link_at(dirfd, name.c_str()) + ")");
        }
        if (want_dir && !S_ISDIR(st.st_mode)) {
            return Error(Errc::conflict, shown + " is not a directory");
        }
    }
    return errno_error(shown, err);
}

// The per-component walk: never follows a symlink, creates missing directories on request.
Result<OpenedDir> walk(int root_fd, const std::vector<std::string>& parts, size_t count,
                       Create create, std::string_view shown, unsigned mode) {
    OpenedDir out;
    out.fd = Fd(::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!out.fd.valid()) {
        return fail(errno_error(join_shown(shown, ""), errno));
    }
    for (size_t i = 0; i < count; ++i) {
        const std::string& part = parts[i];
        int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int fd = ::openat(out.fd.get(), part.c_str(), flags);
        if (fd < 0 && errno == ENOENT && create == Create::yes) {
            if (::mkdirat(out.fd.get(), part.c_str(), mode) == 0) {
                out.created = true;
            } else if (errno != EEXIST) {
                return fail(errno_error(
                    "creating directory " + join_shown(shown, joined(parts, i + 1)), errno));
            }
            fd = ::openat(out.fd.get(), part.c_str(), flags);
        }
        if (fd < 0) {
            return fail(
                refusal(out.fd.get(), part, join_shown(shown, joined(parts, i + 1)), errno, true));
        }
        out.fd = Fd(fd);
    }
    return out;
}

}  // namespace

void use_openat2_for_testing(bool enabled) {
    g_no_openat2 = !enabled;
}

Result<OpenedDir> open_dir_beneath(int root_fd, std::string_view rel, Create create, Follow follow,
                                   std::string_view shown, unsigned mode) {
    std::vector<std::string> parts;
    if (!split(rel, parts)) {
        return fail(Errc::invalid_argument,
                    join_shown(shown, rel) + ": \"..\" is not allowed in a path");
    }
    std::string clean = parts.empty() ? "." : joined(parts, parts.size());
    int fd = openat2_beneath(root_fd, clean, O_RDONLY | O_DIRECTORY | O_CLOEXEC, follow);
    if (fd >= 0) {
        OpenedDir out;
        out.fd = Fd(fd);
        return out;
    }
    int err = errno;
    bool fallback = err == ENOSYS;
    if (follow == Follow::within && !fallback && err != ELOOP && err != EXDEV) {
        return fail(errno_error(join_shown(shown, clean), err));
    }
    // Without openat2, or to create missing components, or to name the symlink it refused.
    auto walked = walk(root_fd, parts, parts.size(), create, shown, mode);
    if (walked && follow == Follow::within && !fallback) {
        // openat2 refused, the strict walk did not: the tree changed in between. Refuse.
        return fail(errno_error(join_shown(shown, clean), err));
    }
    return walked;
}

Result<Fd> open_file_beneath(int root_fd, std::string_view rel, Follow follow,
                             std::string_view shown) {
    std::vector<std::string> parts;
    if (!split(rel, parts) || parts.empty()) {
        return fail(Errc::invalid_argument,
                    join_shown(shown, rel) + ": not a path to a file beneath the root");
    }
    std::string clean = joined(parts, parts.size());
    int flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;  // a FIFO must not block
    int fd =
        openat2_beneath(root_fd, clean, flags | (follow == Follow::never ? O_NOFOLLOW : 0), follow);
    if (fd >= 0) {
        return Fd(fd);
    }
    int err = errno;
    bool fallback = err == ENOSYS;
    if (!fallback && err != ELOOP && err != EXDEV && err != ENOENT && err != ENOTDIR) {
        return fail(errno_error(join_shown(shown, clean), err));
    }
    if (follow == Follow::within && !fallback && (err == ENOENT || err == ENOTDIR)) {
        return fail(errno_error(join_shown(shown, clean), err));
    }
    auto dir = walk(root_fd, parts, parts.size() - 1, Create::no, shown, 0);
    if (!dir) {
        return fail(dir.error());
    }
    fd = ::openat(dir->fd.get(), parts.back().c_str(), flags | O_NOFOLLOW);
    if (fd < 0) {
        return fail(refusal(dir->fd.get(), parts.back(), join_shown(shown, clean), errno, false));
    }
    if (follow == Follow::within && !fallback) {
        ::close(fd);
        return fail(errno_error(join_shown(shown, clean), err));
    }
    return Fd(fd);
}

Result<Fd> open_root(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fail(errno_error(path, errno));
    }
    return Fd(fd);
}

Result<std::string> read_fd(int fd, std::string_view what) {
    std::string out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
        out.reserve(static_cast<size_t>(st.st_size));
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return fail(errno_error("reading " + std::string(what), errno));
        }
        if (n == 0) {
            return out;
        }
        out.append(buf, static_cast<size_t>(n));
    }
}

}  // namespace shipshape::os
