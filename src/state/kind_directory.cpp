// [[directory]]: a directory with mode and owner. Apply owns Op::mkdir and Op::attrs for every
// path kind (tree directories, and mode/owner fixes of files whose content is already right).
#include <sys/stat.h>

#include <cerrno>

#include "os/errno_error.hpp"
#include "state/paths.hpp"

namespace shipshape::state {

void plan_directory(PlanContext& ctx, size_t index, const Resource& r) {
    std::string real_p = ctx.target.real(r.path);
    struct stat st {};
    if (::lstat(real_p.c_str(), &st) != 0) {
        if (errno != ENOENT) {
            ctx.add_error(index, r.path, "directory", os::errno_error(real_p, errno).message());
            return;
        }
        Change& c = ctx.add(index, Action::create, Op::mkdir, r.path, "directory");
        ctx.new_attrs(r, r.mode, 0755, c);
        ctx.note_missing_parent(c);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        ctx.add_error(index, r.path, "directory",
                      r.path +
                          " exists and is not a directory; remove it first (by hand, or with "
                          "an [[absent]] applied before this state)");
        return;
    }
    Change c = make_change(index, Action::change, Op::attrs, r.path, "directory");
    ctx.compare_attrs(r, st, r.mode, c);
    if (!c.details.empty()) {
        ctx.changes.push_back(std::move(c));
    }
}

void apply_mkdir(PathApply& pa, size_t i) {
    const Change& c = pa.ctx.change(i);
    std::string p = pa.target.real(c.path);
    int rc = ::mkdir(p.c_str(), c.mode.value_or(0755));
    if (rc != 0 && errno == ENOENT && make_parents(parent_of(p))) {
        pa.add_ancestors(p);
        rc = ::mkdir(p.c_str(), c.mode.value_or(0755));
    }
    if (rc != 0 && errno != EEXIST) {
        pa.ctx.done(i, false, err_text("mkdir " + c.path, errno));
        return;
    }
    std::string error;
    if (!pa.own_and_mode(-1, p.c_str(), c, error)) {
        pa.ctx.done(i, false, error);
        return;
    }
    pa.dirs.insert(parent_of(p));
    pa.ctx.done(i, true);
}

void apply_attrs(PathApply& pa, size_t i) {
    const Change& c = pa.ctx.change(i);
    std::string p = pa.target.real(c.path);
    std::string error;
    if (!pa.own_and_mode(-1, p.c_str(), c, error)) {
        pa.ctx.done(i, false, error);
        return;
    }
    pa.ctx.done(i, true);
}

}  // namespace shipshape::state
