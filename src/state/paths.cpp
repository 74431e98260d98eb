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

bool make_parents(const std::string& dir) {
    for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
        std::string prefix = slash == std::string::npos ? dir : dir.substr(0, slash);
        if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
            return false;
        }
        if (slash == std::string::npos) {
            return true;
        }
    }
}

PathApply::PathApply(ApplyContext& ctx_) : ctx(ctx_), target(ctx_.target) {
    ids = read_ids(target.real("/etc/passwd"), target.real("/etc/group"), target.root == "/");
}

bool PathApply::own_and_mode(int fd, const char* path, const Change& c, std::string& error) const {
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
        int rc = fd >= 0 ? ::fchown(fd, uid ? *uid : static_cast<uid_t>(-1),
                                    gid ? *gid : static_cast<gid_t>(-1))
                         : ::lchown(path, uid ? *uid : static_cast<uid_t>(-1),
                                    gid ? *gid : static_cast<gid_t>(-1));
        if (rc != 0) {
            error = err_text("chown " + c.path, errno);
            return false;
        }
    }
    if (c.mode) {
        int rc = fd >= 0 ? ::fchmod(fd, *c.mode) : ::chmod(path, *c.mode);
        if (rc != 0) {
            error = err_text("chmod " + c.path, errno);
            return false;
        }
    }
    return true;
}

void PathApply::add_ancestors(const std::string& path) {
    std::string root = target.is_host() ? "" : target.root;
    for (std::string d = parent_of(path); d.size() > root.size() && d != "/"; d = parent_of(d)) {
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
        int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            continue;  // removed since (a purged tree's subdirectory)
        }
        if (pa.ctx.flusher.fsync_dir(fd) != 0) {
            int err = errno;
            for (const auto& t : pa.temps) {
                if (t.ok && parent_of(t.final_path) == d) {
                    auto& res = pa.ctx.report.results[t.change];
                    res.ok = false;
                    res.error = err_text("replaced, but syncing directory " + d, err);
                }
            }
        }
        ::close(fd);
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
