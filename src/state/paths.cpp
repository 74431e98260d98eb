// Applying the path kinds' changes in the one order that keeps apply's durability promise (see
// paths.hpp), and the helpers their ops share.
#include "state/paths.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "os/errno_error.hpp"

namespace shipshape::state {

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

std::string err_text(const std::string& what, int err) {
    return os::errno_error(what, err).message();
}

PathApply::PathApply(ApplyContext& ctx_) : ctx(ctx_), target(ctx_.target) {
    ids = read_target_ids(target);
    if (!ctx.plan.source_root.empty()) {
        if (auto fd = os::open_root(ctx.plan.source_root)) {
            m_repo = std::move(*fd);
        }
    }
}

bool PathApply::own_and_mode(int fd, const Change& c, std::string& error) const {
    const Resource& r = ctx.resources[c.resource];
    // The resource's owner/group win (apply resolves names created by [[user]]/[[group]] just
    // now); otherwise the ids the plan saw are kept.
    std::optional<uint32_t> uid = r.owner ? ids.uid(*r.owner) : c.uid;
    std::optional<uint32_t> gid = r.group && r.kind != Kind::user ? ids.gid(*r.group) : c.gid;
    if (r.owner && !uid) {
        error = "user " + *r.owner + " does not exist on the target (did its [[user]] fail?)";
        return false;
    }
    if (r.group && r.kind != Kind::user && !gid) {
        error = "group " + *r.group + " does not exist on the target (did its [[group]] fail?)";
        return false;
    }
    if (uid || gid) {
        if (::fchown(fd, uid ? *uid : static_cast<uid_t>(-1),
                     gid ? *gid : static_cast<gid_t>(-1)) != 0) {
            error = err_text("chown " + c.path, errno);
            return false;
        }
    }
    if (c.mode) {
        if (::fchmod(fd, *c.mode) != 0) {
            error = err_text("chmod " + c.path, errno);
            return false;
        }
    }
    return true;
}

int PathApply::open_entry(int dirfd, const std::string& name, const Change& c,
                          std::string& error) const {
    // O_PATH first: it opens anything without side effects (a device, a FIFO), so the type can
    // be checked before the entry is opened for real.
    int probe = ::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st {};
    if (probe < 0 || ::fstat(probe, &st) != 0) {
        error = err_text("opening " + c.path, errno);
        if (probe >= 0) {
            ::close(probe);
        }
        return -1;
    }
    ::close(probe);
    if (S_ISLNK(st.st_mode)) {
        error = c.path + " is a symlink (-> " + os::read_link_at(dirfd, name.c_str()) +
                "), which it was not when planned; shipshape does not follow symlinks it did "
                "not declare";
        return -1;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        error = c.path + " is no longer a regular file or a directory";
        return -1;
    }
    int fd =
        ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat again {};
    if (fd >= 0 &&
        (::fstat(fd, &again) != 0 || again.st_ino != st.st_ino || again.st_dev != st.st_dev)) {
        ::close(fd);
        error = c.path + " changed while it was being opened";
        return -1;
    }
    if (fd < 0) {
        error = err_text("opening " + c.path, errno);
    }
    return fd;
}

void PathApply::add_ancestors(const std::string& path) {
    for (std::string d = parent_of(path); d != "/"; d = parent_of(d)) {
        dirs.insert(parent_of(d));
    }
}

namespace {

// Each directory whose entries changed is fsynced once. A failure means the new entries are
// visible but may not survive a crash: every file renamed into that directory says so.
void sync_dirs(PathApply& pa) {
    if (pa.ctx.options.sync == SyncMode::none) {
        return;
    }
    for (const auto& d : pa.dirs) {
        auto fd = pa.target.dir(d, os::Create::no);
        if (!fd) {
            continue;  // removed since (a purged tree's subdirectory)
        }
        if (pa.ctx.flusher.fsync_dir(*fd) != 0) {
            int err = errno;
            for (const auto& t : pa.temps) {
                if (t.ok && t.dir == d) {
                    auto& res = pa.ctx.report.results[t.change];
                    res.ok = false;
                    res.error =
                        err_text("replaced, but syncing directory " + pa.target.real_dir(d), err);
                }
            }
        }
    }
}

}  // namespace

void apply_paths(ApplyContext& ctx, const std::vector<size_t>& changes) {
    PathApply pa(ctx);
    for (size_t i : changes) {
        const Change& c = ctx.change(i);
        if (!c.error.empty()) {
            ctx.done(i, false, c.error);
        } else if (c.op == Op::mkdir) {
            apply_mkdir(pa, i);
        }
    }
    write_temps(pa, changes);
    if (ctx.cancelled()) {
        discard_temps(pa);
        ctx.stop = true;
        return;
    }
    sync_temps(pa);
    for (size_t i : changes) {
        const Change& c = ctx.change(i);
        if (!c.error.empty()) {
            continue;
        }
        if (c.op == Op::symlink) {
            apply_symlink(pa, i);
        } else if (c.op == Op::attrs) {
            apply_attrs(pa, i);
        }
    }
    rename_temps(pa);
    apply_removals(pa, changes);
    sync_dirs(pa);
}

}  // namespace shipshape::state
