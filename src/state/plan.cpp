// Planning (see plan.hpp): the driver that hands each resource to its kind's PlanFn (kinds.hpp),
// the PlanContext helpers the kinds share, and drift --strict's walk. Reads only: lstat,
// readlink, reads of managed files and sources, the target's passwd/group/dpkg status, and
// `unless` guards, which are promised to be read-only.
#include "state/plan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "state/kinds.hpp"
#include "state/udiff.hpp"

namespace shipshape::state {

std::string_view action_name(Action action) {
    switch (action) {
        case Action::create:
            return "create";
        case Action::change:
            return "change";
        case Action::remove:
            return "remove";
        case Action::run:
            return "run";
    }
    return "?";
}

std::string Plan::summary() const {
    std::string out = std::to_string(creates) + " to create, " + std::to_string(changes_count) +
                      " to change, " + std::to_string(removes) + " to remove";
    if (runs) {
        out += ", " + std::to_string(runs) + (runs == 1 ? " command" : " commands") + " to run";
    }
    if (errors) {
        out += ", " + std::to_string(errors) + (errors == 1 ? " error" : " errors");
    }
    return out;
}

std::string real_path(const std::string& root, const std::string& path) {
    if (root.empty() || root == "/") {
        return path;
    }
    return root + path;
}

std::vector<std::string> command_env(const std::string& root) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        if (std::strncmp(*e, "SHIPSHAPE_ROOT=", 15) != 0) {
            env.emplace_back(*e);
        }
    }
    env.push_back("SHIPSHAPE_ROOT=" + (root.empty() ? std::string("/") : root));
    return env;
}

Change make_change(size_t index, Action action, Op op, std::string path, std::string what) {
    Change c;
    c.resource = index;
    c.action = action;
    c.op = op;
    c.path = std::move(path);
    c.what = std::move(what);
    return c;
}

PlanContext::PlanContext(const std::vector<Resource>& resources_, const PlanOptions& options_)
    : resources(resources_), options(options_), target{options_.root} {
    ids = read_target_ids(target);
}

Change& PlanContext::add(size_t index, Action action, Op op, std::string path, std::string what) {
    changes.push_back(make_change(index, action, op, std::move(path), std::move(what)));
    return changes.back();
}

void PlanContext::add_error(size_t index, const std::string& path, std::string what,
                            std::string error) {
    Change& c = add(index, Action::change, Op::attrs, path, std::move(what));
    c.error = std::move(error);
}

std::optional<uint32_t> PlanContext::uid_of(const std::optional<std::string>& name,
                                            bool& pending) const {
    pending = false;
    if (!name) {
        return std::nullopt;
    }
    if (auto id = ids.uid(*name)) {
        return id;
    }
    pending = true;  // declared by a [[user]] that apply creates first
    return std::nullopt;
}

std::optional<uint32_t> PlanContext::gid_of(const std::optional<std::string>& name,
                                            bool& pending) const {
    pending = false;
    if (!name) {
        return std::nullopt;
    }
    if (auto id = ids.gid(*name)) {
        return id;
    }
    pending = true;
    return std::nullopt;
}

bool PlanContext::owner_matches(const Resource& r, const struct stat& st) const {
    bool pending = false;
    if (r.owner) {
        auto uid = uid_of(r.owner, pending);
        if (pending || *uid != st.st_uid) {
            return false;
        }
    }
    if (r.group) {
        auto gid = gid_of(r.group, pending);
        if (pending || *gid != st.st_gid) {
            return false;
        }
    }
    return true;
}

void PlanContext::compare_attrs(const Resource& r, const struct stat& st,
                                std::optional<unsigned> mode, Change& c) const {
    if (mode && (st.st_mode & 07777) != *mode) {
        c.details.push_back("mode " + format_mode(st.st_mode & 07777) + " -> " +
                            format_mode(*mode));
    }
    bool pending = false;
    auto uid = uid_of(r.owner, pending);
    if (r.owner && (pending || *uid != st.st_uid)) {
        c.details.push_back("owner " + ids.user_name(st.st_uid) + " -> " + *r.owner);
    }
    auto gid = gid_of(r.group, pending);
    if (r.group && (pending || *gid != st.st_gid)) {
        c.details.push_back("group " + ids.group_name(st.st_gid) + " -> " + *r.group);
    }
    c.mode = mode ? mode : std::optional<unsigned>(st.st_mode & 07777);
    c.uid = st.st_uid;  // kept unless the resource names an owner (apply resolves it)
    c.gid = st.st_gid;
}

void PlanContext::new_attrs(const Resource& r, std::optional<unsigned> mode, unsigned fallback,
                            Change& c) const {
    c.mode = mode ? *mode : fallback;
    c.details.push_back("mode " + format_mode(*c.mode));
    if (r.owner) {
        c.details.push_back("owner " + *r.owner);
    }
    if (r.group) {
        c.details.push_back("group " + *r.group);
    }
}

void PlanContext::note_missing_parent(Change& c, const Target::Entry& e) const {
    if (e.dirfd < 0) {
        c.details.push_back("creates missing parent directories");
    }
}

Result<Hash128> PlanContext::hash_at(int dirfd, const char* name, const struct stat& st) const {
    if (options.cache) {
        return options.cache->hash(dirfd, name, st);
    }
    return xxh3_file(dirfd, name);
}

namespace {

// drift --strict: entries of managed directories that no resource declares.
class UnmanagedWalk {
  public:
    explicit UnmanagedWalk(const PlanContext& ctx) : m_ctx(ctx) {}

    std::vector<std::string> run() {
        std::set<std::string> managed;
        std::vector<std::string> dirs;
        std::vector<std::string> trees;
        for (const auto& r : m_ctx.resources) {
            if (!r.is_path_kind()) {
                continue;
            }
            managed.insert(r.path);
            for (auto p = r.path.rfind('/'); p != std::string::npos && p > 0;
                 p = r.path.rfind('/', p - 1)) {
                managed.insert(r.path.substr(0, p));
            }
            if (r.kind == Kind::directory) {
                dirs.push_back(r.path);
            }
            if (r.kind == Kind::tree) {
                trees.push_back(r.path);
            }
        }
        std::vector<std::string> out = m_ctx.tree_unmanaged;
        std::set<std::string> seen(out.begin(), out.end());
        for (const auto& d : dirs) {
            walk_unmanaged(d, managed, trees, seen, out);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    void walk_unmanaged(const std::string& dir, const std::set<std::string>& managed,
                        const std::vector<std::string>& trees, std::set<std::string>& seen,
                        std::vector<std::string>& out) {
        for (const auto& t : trees) {
            if (dir == t) {
                return;  // the tree's own walk reported its extras
            }
        }
        auto fd = m_ctx.target.dir(dir, os::Create::no);
        // A fresh description of the cached handle: readdir moves its offset.
        DIR* d = fd ? ::fdopendir(::openat(*fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) : nullptr;
        if (!d) {
            return;
        }
        std::vector<std::pair<std::string, bool>> entries;
        while (auto* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name != "." && name != "..") {
                entries.emplace_back(dir + "/" + name, e->d_type == DT_DIR);
            }
        }
        ::closedir(d);
        for (const auto& [path, is_dir] : entries) {
            if (!managed.count(path)) {
                if (seen.insert(path).second) {
                    out.push_back(path);
                }
            } else if (is_dir) {
                walk_unmanaged(path, managed, trees, seen, out);
            }
        }
    }

  private:
    const PlanContext& m_ctx;
};

}  // namespace

Result<Plan> make_plan(const std::vector<Resource>& resources, const PlanOptions& options) {
    PlanContext ctx(resources, options);
    Plan plan;
    plan.root = ctx.target.root;
    plan.source_root = options.source_root;
    plan.resources = resources.size();
    for (size_t i = 0; i < resources.size(); ++i) {
        const Resource& r = resources[i];
        size_t before = ctx.changes.size();
        kind_entry(r.kind).plan(ctx, i, r);
        for (size_t c = before; c < ctx.changes.size(); ++c) {
            ctx.changed_paths.insert(ctx.changes[c].path);
        }
    }
    if (options.strict) {
        plan.unmanaged = UnmanagedWalk(ctx).run();
    }
    if (options.diffs) {
        for (const auto& [path, index] : ctx.line_changes) {
            Change& c = ctx.changes[index];
            const std::string& before = ctx.line_before[path];
            if (is_text(before) && before.size() <= k_diff_limit) {
                c.diff = unified_diff(before, c.content, path, path);
            }
        }
    }
    for (const auto& c : ctx.changes) {
        if (!c.error.empty()) {
            ++plan.errors;
            plan.unsupported += c.unsupported ? 1 : 0;
            continue;
        }
        switch (c.action) {
            case Action::create:
                ++plan.creates;
                break;
            case Action::change:
                ++plan.changes_count;
                break;
            case Action::remove:
                ++plan.removes;
                break;
            case Action::run:
                ++plan.runs;
                break;
        }
    }
    plan.changes = std::move(ctx.changes);
    return plan;
}

}  // namespace shipshape::state
