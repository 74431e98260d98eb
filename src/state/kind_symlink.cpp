// [[symlink]]: a symbolic link with an exact target. Apply owns Op::symlink (also for tree
// symlinks): the link is made under a temporary name and renamed over the path, so the path
// always resolves to the old or the new target.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "os/errno_error.hpp"
#include "state/paths.hpp"

namespace shipshape::state {

void plan_symlink(PlanContext& ctx, size_t index, const Resource& r) {
    std::string real_p = ctx.target.real(r.path);
    struct stat st {};
    if (::lstat(real_p.c_str(), &st) != 0) {
        if (errno != ENOENT) {
            ctx.add_error(index, r.path, "symlink", os::errno_error(real_p, errno).message());
            return;
        }
        Change& c = ctx.add(index, Action::create, Op::symlink, r.path, "symlink");
        c.target = r.target;
        c.details.push_back("-> " + r.target);
        ctx.note_missing_parent(c);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        ctx.add_error(index, r.path, "symlink",
                      r.path +
                          " is a directory; remove it first (by hand, or with an [[absent]] "
                          "recurse = true applied before this state)");
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        std::string cur(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlink(real_p.c_str(), cur.data(), cur.size());
        if (n >= 0) {
            cur.resize(static_cast<size_t>(n));
            if (cur == r.target) {
                return;
            }
        }
        Change& c = ctx.add(index, Action::change, Op::symlink, r.path, "symlink");
        c.target = r.target;
        c.details.push_back("target " + cur + " -> " + r.target);
        return;
    }
    Change& c = ctx.add(index, Action::change, Op::symlink, r.path, "symlink");
    c.target = r.target;
    c.details.push_back("replace file with symlink -> " + r.target);
}

void apply_symlink(PathApply& pa, size_t i) {
    const Change& c = pa.ctx.change(i);
    std::string p = pa.target.real(c.path);
    std::string tmp = temp_path_for(p, ::getpid(), i);
    int rc = ::symlink(c.target.c_str(), tmp.c_str());
    if (rc != 0 && errno == ENOENT && make_parents(parent_of(tmp))) {
        pa.add_ancestors(p);
        rc = ::symlink(c.target.c_str(), tmp.c_str());
    }
    if (rc != 0) {
        pa.ctx.done(i, false, err_text("creating symlink " + c.path, errno));
        return;
    }
    if (::rename(tmp.c_str(), p.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        pa.ctx.done(i, false, err_text("renaming symlink into place " + c.path, e));
        return;
    }
    pa.dirs.insert(parent_of(p));
    pa.ctx.done(i, true);
}

}  // namespace shipshape::state
