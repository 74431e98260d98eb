// [[directory]]: a directory with mode and owner. Apply owns Op::mkdir and Op::attrs for every
// path kind (tree directories, and mode/owner fixes of files whose content is already right).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "os/errno_error.hpp"
#include "state/paths.hpp"

namespace shipshape::state {

void plan_directory(PlanContext& ctx, size_t index, const Resource& r) {
    auto e = ctx.target.lookup(r.path);
    if (!e) {
        ctx.add_error(index, r.path, "directory", e.error().message());
        return;
    }
    const struct stat& st = e->st;
    if (!e->exists) {
        Change& c = ctx.add(index, Action::create, Op::mkdir, r.path, "directory");
        ctx.new_attrs(r, r.mode, 0755, c);
        ctx.note_missing_parent(c, *e);
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

namespace {

// Gives the entry of change i its owner and mode, through a handle that is never a symlink.
void own_entry(PathApply& pa, size_t i, const Target::Entry& p) {
    const Change& c = pa.ctx.change(i);
    std::string error;
    int fd = pa.open_entry(p.dirfd, p.name, c, error);
    bool ok = fd >= 0 && pa.own_and_mode(fd, c, error);
    if (fd >= 0) {
        ::close(fd);
    }
    pa.ctx.done(i, ok, ok ? std::string() : error);
}

}  // namespace

void apply_mkdir(PathApply& pa, size_t i) {
    const Change& c = pa.ctx.change(i);
    auto p = pa.target.parent(c.path, os::Create::yes);
    if (!p) {
        pa.ctx.done(i, false, "mkdir " + c.path + ": " + p.error().message());
        return;
    }
    if (p->parent_created) {
        pa.add_ancestors(c.path);
    }
    if (::mkdirat(p->dirfd, p->name.c_str(), c.mode.value_or(0755)) != 0 && errno != EEXIST) {
        pa.ctx.done(i, false, err_text("mkdir " + c.path, errno));
        return;
    }
    pa.dirs.insert(parent_of(c.path));
    own_entry(pa, i, *p);
}

void apply_attrs(PathApply& pa, size_t i) {
    const Change& c = pa.ctx.change(i);
    auto p = pa.target.parent(c.path, os::Create::no);
    if (!p) {
        pa.ctx.done(i, false, p.error().message());
        return;
    }
    own_entry(pa, i, *p);
}

}  // namespace shipshape::state
