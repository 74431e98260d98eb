// Target (see kinds.hpp): host paths reached through handles resolved beneath the root.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "os/errno_error.hpp"
#include "os/file_system.hpp"
#include "state/kinds.hpp"

namespace shipshape::state {

namespace {

// The resolver names a refused symlink; say why it is refused and what to do.
Error explained(const Error& e) {
    if (e.code() == Errc::permission_denied &&
        e.message().find(" is a symlink (-> ") != std::string::npos) {
        return Error(e.code(), e.message() +
                                   "; shipshape does not follow symlinks it did not declare "
                                   "(manage the real directory, or remove the link)");
    }
    return e;
}

std::string parent_dir(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

}  // namespace

Target::Target(std::string root_path) : root(std::move(root_path)) {
    if (root.empty()) {
        root = "/";
    }
}

Result<int> Target::root_fd(os::Create create) const {
    if (m_root.valid()) {
        return m_root.get();
    }
    auto fd = os::open_root(root);
    if (!fd && fd.error().code() == Errc::not_found && create == os::Create::yes) {
        // The root is the operator's own path (--root): made like mkdir -p, as it is given.
        if (auto made = os::make_local_file_system("/")->create_directories(root); !made) {
            return fail(made.error());
        }
        fd = os::open_root(root);
    }
    if (!fd) {
        return fail(fd.error());
    }
    m_root = std::move(*fd);
    return m_root.get();
}

Result<int> Target::dir(const std::string& dir, os::Create create, bool* created) const {
    std::lock_guard lock(m_mutex);
    if (auto it = m_dirs.find(dir); it != m_dirs.end()) {
        return it->second.get();
    }
    if (create == os::Create::no) {
        if (auto it = m_missing.find(dir); it != m_missing.end()) {
            return fail(it->second);  // a first apply: 1,000 files below one missing directory
        }
    } else {
        m_missing.clear();  // this call may create what was missing
    }
    auto rfd = root_fd(create);
    if (!rfd) {
        if (rfd.error().code() == Errc::not_found) {
            m_missing.emplace(dir, rfd.error());
        }
        return fail(rfd.error());
    }
    std::string_view rel = dir;
    while (!rel.empty() && rel.front() == '/') {
        rel.remove_prefix(1);
    }
    auto opened = os::open_dir_beneath(*rfd, rel, create);
    if (!opened) {
        if (opened.error().code() == Errc::not_found) {
            m_missing.emplace(dir, opened.error());
        }
        return fail(explained(opened.error()));
    }
    if (created && opened->created) {
        *created = true;
    }
    int fd = opened->fd.get();
    if (m_dirs.size() >= k_max_cached_dirs) {
        m_dirs.clear();  // handles given out before this call are no longer valid (see kinds.hpp)
    }
    m_dirs.emplace(dir, std::move(opened->fd));
    return fd;
}

Result<Target::Entry> Target::parent(const std::string& path, os::Create create) const {
    Entry e;
    if (path == "/") {
        auto fd = dir("/", create);
        if (!fd) {
            return fail(fd.error());
        }
        e.dirfd = *fd;
        e.name = ".";
        return e;
    }
    auto fd = dir(parent_dir(path), create, &e.parent_created);
    if (!fd) {
        return fail(fd.error());
    }
    e.dirfd = *fd;
    e.name = path.substr(path.rfind('/') + 1);
    return e;
}

Result<Target::Entry> Target::lookup(const std::string& path) const {
    auto e = parent(path, os::Create::no);
    if (!e) {
        if (e.error().code() == Errc::not_found) {
            return Entry{};  // a missing parent: the entry is missing too
        }
        return fail(e.error());
    }
    if (::fstatat(e->dirfd, e->name.c_str(), &e->st, AT_SYMLINK_NOFOLLOW) == 0) {
        e->exists = true;
    } else if (errno != ENOENT) {
        return fail(os::errno_error(path, errno));
    }
    return e;
}

Result<std::string> read_entry(const Target::Entry& e, const std::string& path) {
    os::Fd fd(::openat(e.dirfd, e.name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) {
        return fail(os::errno_error("reading '" + path + "'", errno));
    }
    return os::read_fd(fd.get(), "'" + path + "'");
}

std::string read_target_text(const Target& target, const std::string& path) {
    auto e = target.lookup(path);
    if (!e || !e->exists || !S_ISREG(e->st.st_mode)) {
        return {};
    }
    return read_entry(*e, path).value_or(std::string());
}

IdMap read_target_ids(const Target& target) {
    return parse_ids(read_target_text(target, "/etc/passwd"),
                     read_target_text(target, "/etc/group"), target.is_host());
}

}  // namespace shipshape::state
