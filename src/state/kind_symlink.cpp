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
    auto e = ctx.target.lookup(r.path);
    if (!e) {
        ctx.add_error(index, r.path, "symlink", e.error().message());
        return;
    }
    const struct stat& st = e->st;
    if (!e->exists) {
        Change& c = ctx.add(index, Action::create, Op::symlink, r.path, "symlink");
        c.target = r.target;
        c.details.push_back("-> " + r.target);
        ctx.note_missing_parent(c, *e);
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
        std::string cur = os::read_link_at(e->dirfd, e->name.c_str());
        if (cur == r.target) {
            return;
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
    auto p = pa.target.parent(c.path, os::Create::yes);
    if (!p) {
        pa.ctx.done(i, false, "creating symlink " + c.path + ": " + p.error().message());
        return;
    }
    if (p->parent_created) {
        pa.add_ancestors(c.path);
    }
    std::string tmp = temp_name_for(p->name, ::getpid(), i);
    if (::symlinkat(c.target.c_str(), p->dirfd, tmp.c_str()) != 0) {
        pa.ctx.done(i, false, err_text("creating symlink " + c.path, errno));
        return;
    }
    if (::renameat(p->dirfd, tmp.c_str(), p->dirfd, p->name.c_str()) != 0) {
        int e = errno;
        ::unlinkat(p->dirfd, tmp.c_str(), 0);
        pa.ctx.done(i, false, err_text("renaming symlink into place " + c.path, e));
        return;
    }
    pa.dirs.insert(parent_of(c.path));
    pa.ctx.done(i, true);
}

}  // namespace shipshape::state
