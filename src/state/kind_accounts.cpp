// [[group]] and [[user]]: accounts made and changed with shadow's groupadd/groupmod and
// useradd/usermod (with --prefix under --root). Applied first, so that files can be owned by
// the accounts they create.
#include "state/kinds.hpp"

namespace shipshape::state {

namespace {

// groupadd/useradd's --system and --gid/--uid, with the plan's details saying the same.
void add_system_and_id(Change& c, const Resource& r, const char* flag, const char* what) {
    if (r.system) {
        c.argv.push_back("--system");
        c.details.push_back("system");
    }
    if (r.id) {
        c.argv.insert(c.argv.end(), {flag, std::to_string(*r.id)});
        c.details.push_back(std::string(what) + " " + std::to_string(*r.id));
    }
}

}  // namespace

void plan_group(PlanContext& ctx, size_t index, const Resource& r) {
    auto gid = ctx.ids.gid(r.name);
    if (!gid) {
        Change& c = ctx.add(index, Action::create, Op::group, r.name, "group");
        c.argv = {"groupadd"};
        add_system_and_id(c, r, "--gid", "gid");
        c.argv.push_back(r.name);
        return;
    }
    if (r.id && *gid != static_cast<uint32_t>(*r.id)) {
        Change& c = ctx.add(index, Action::change, Op::group, r.name, "group");
        c.details.push_back("gid " + std::to_string(*gid) + " -> " + std::to_string(*r.id));
        c.argv = {"groupmod", "--gid", std::to_string(*r.id), r.name};
    }
}

void plan_user(PlanContext& ctx, size_t index, const Resource& r) {
    auto have = ctx.ids.user(r.name);
    if (!have) {
        Change& c = ctx.add(index, Action::create, Op::user, r.name, "user");
        c.argv = {"useradd"};
        add_system_and_id(c, r, "--uid", "uid");
        if (!r.home.empty()) {
            c.argv.insert(c.argv.end(), {"--home-dir", r.home});
            c.details.push_back("home " + r.home);
        }
        if (!r.shell.empty()) {
            c.argv.insert(c.argv.end(), {"--shell", r.shell});
            c.details.push_back("shell " + r.shell);
        }
        if (r.group) {
            c.argv.insert(c.argv.end(), {"--gid", *r.group});
            c.details.push_back("group " + *r.group);
        } else if (!r.system) {
            c.argv.push_back("--user-group");
        }
        c.argv.push_back(r.name);
        return;
    }
    std::vector<std::string> args{"usermod"};
    std::vector<std::string> details;
    if (r.id && have->uid != static_cast<uint32_t>(*r.id)) {
        args.insert(args.end(), {"--uid", std::to_string(*r.id)});
        details.push_back("uid " + std::to_string(have->uid) + " -> " + std::to_string(*r.id));
    }
    if (!r.home.empty() && have->home != r.home) {
        args.insert(args.end(), {"--home", r.home});
        details.push_back("home " + have->home + " -> " + r.home);
    }
    if (!r.shell.empty() && have->shell != r.shell) {
        args.insert(args.end(), {"--shell", r.shell});
        details.push_back("shell " + have->shell + " -> " + r.shell);
    }
    if (r.group) {
        auto gid = ctx.ids.gid(*r.group);
        if (!gid || *gid != have->gid) {
            args.insert(args.end(), {"--gid", *r.group});
            details.push_back("group " + ctx.ids.group_name(have->gid) + " -> " + *r.group);
        }
    }
    if (!details.empty()) {
        Change& c = ctx.add(index, Action::change, Op::user, r.name, "user");
        c.details = std::move(details);
        args.push_back(r.name);
        c.argv = std::move(args);
    }
}

void apply_accounts(ApplyContext& ctx, const std::vector<size_t>& changes) {
    for (size_t i : changes) {
        const Change& c = ctx.change(i);
        if (!c.error.empty()) {
            ctx.done(i, false, c.error);
            continue;
        }
        if (!ctx.options.runner) {
            ctx.done(i, false, "no process runner to run " + c.argv[0]);
            continue;
        }
        std::vector<std::string> argv = c.argv;
        if (!ctx.target.is_host()) {
            // shadow's tools edit ROOT/etc/{passwd,group,shadow,gshadow} with their locks.
            argv.insert(argv.begin() + 1, {"--prefix", ctx.target.root});
        }
        ctx.run_tool(i, std::move(argv));
    }
}

}  // namespace shipshape::state
