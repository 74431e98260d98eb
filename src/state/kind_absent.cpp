// [[absent]]: a path that must not exist (a directory only with recurse = true). Apply owns
// Op::remove (also tree purges): deepest paths first, each removed through a handle on its
// parent directory.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "os/errno_error.hpp"
#include "state/paths.hpp"

namespace shipshape::state {

void plan_absent(PlanContext& ctx, size_t index, const Resource& r) {
    auto e = ctx.target.lookup(r.path);
    if (!e) {
        ctx.add_error(index, r.path, "absent", e.error().message());
        return;
    }
    if (!e->exists) {
        return;
    }
    const struct stat& st = e->st;
    if (S_ISDIR(st.st_mode) && !r.recurse) {
        ctx.add_error(index, r.path, "absent",
                      r.path + " is a directory: set recurse = true to remove it and its content");
        return;
    }
    Change& c = ctx.add(index, Action::remove, Op::remove, r.path,
                        S_ISDIR(st.st_mode)   ? "directory"
                        : S_ISLNK(st.st_mode) ? "symlink"
                                              : "file");
    if (S_ISDIR(st.st_mode)) {
        c.details.push_back("and everything in it");
    }
}

namespace {

// Removes `name` under `dirfd`, recursing into directories.
bool remove_at(int dirfd, const char* name, std::string& error) {
    struct stat st {};
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
            return true;
        }
        error = err_text(std::string("stat ") + name, errno);
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            error = err_text(std::string("opening ") + name, errno);
            return false;
        }
        DIR* d = ::fdopendir(fd);
        if (!d) {
            error = err_text(std::string("opening ") + name, errno);
            ::close(fd);
            return false;
        }
        std::vector<std::string> names;
        while (auto* e = ::readdir(d)) {
            if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
                names.emplace_back(e->d_name);
            }
        }
        bool ok = true;
        for (const auto& n : names) {
            ok = remove_at(::dirfd(d), n.c_str(), error) && ok;
        }
        ::closedir(d);
        if (!ok) {
            return false;
        }
        if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0) {
            error = err_text(std::string("removing directory ") + name, errno);
            return false;
        }
        return true;
    }
    if (::unlinkat(dirfd, name, 0) != 0) {
        error = err_text(std::string("removing ") + name, errno);
        return false;
    }
    return true;
}

}  // namespace

void apply_removals(PathApply& pa, const std::vector<size_t>& changes) {
    std::vector<size_t> order;
    for (size_t i : changes) {
        const Change& c = pa.ctx.change(i);
        if (c.op == Op::remove && c.error.empty()) {
            order.push_back(i);
        }
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return pa.ctx.change(a).path.size() > pa.ctx.change(b).path.size();
    });
    for (size_t i : order) {
        const Change& c = pa.ctx.change(i);
        auto p = pa.target.parent(c.path, os::Create::no);
        if (!p && p.error().code() == Errc::not_found) {
            pa.ctx.done(i, true);  // its parent is gone, so is it
            continue;
        }
        if (!p) {
            pa.ctx.done(i, false, "removing " + c.path + ": " + p.error().message());
            continue;
        }
        std::string error;
        bool ok = remove_at(p->dirfd, p->name.c_str(), error);
        pa.dirs.insert(parent_of(c.path));
        pa.ctx.done(i, ok, error);
    }
}

}  // namespace shipshape::state
