// shipshape user add|token|list|revoke: the people who may write through `shipshape serve` or
// into a shared (PostgreSQL) store, their roles and their access tokens. Whoever can write the
// store administers its users: on PostgreSQL that is whoever holds the database's credentials.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/users.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"

namespace shipshape::cli {

namespace {

struct UserOptions {
    std::string name;
    std::string roles;
};

int run_user_add(Context& ctx, const UserOptions& o) {
    auto roles = app::parse_roles(o.roles);
    if (!roles) {
        return report_error(ctx, roles.error());
    }
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::UserService users(*repo->store);
    if (auto st = users.add_user(o.name, *roles); !st) {
        Error e = st.error();
        if (e.code() == Errc::already_exists) {
            e = Error(Errc::already_exists, e.message() +
                                                " (change its roles with 'shipshape user roles " +
                                                o.name + " ROLES')");
        }
        return report_error(ctx, e);
    }
    if (ctx.json) {
        std::printf("%s\n", json_user_added(o.name, *roles).c_str());
    } else {
        std::string shown;
        for (const auto& r : *roles) {
            shown += (shown.empty() ? "" : ",") + r;
        }
        std::printf("added user %s with roles %s; make a token with: shipshape user token %s\n",
                    o.name.c_str(), shown.empty() ? "(none)" : shown.c_str(), o.name.c_str());
    }
    return 0;
}

int run_user_roles(Context& ctx, const UserOptions& o) {
    auto roles = app::parse_roles(o.roles);
    if (!roles) {
        return report_error(ctx, roles.error());
    }
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::UserService users(*repo->store);
    if (auto st = users.set_roles(o.name, *roles); !st) {
        return report_error(ctx, st.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_user_added(o.name, *roles).c_str());
    } else {
        std::fprintf(stderr, "user %s now has roles %s\n", o.name.c_str(),
                     o.roles.empty() ? "(none)" : o.roles.c_str());
    }
    return 0;
}

// The token alone on stdout (even with --json, so that `$(shipshape user token NAME)` works);
// what to do with it on stderr.
int run_user_token(Context& ctx, const UserOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::UserService users(*repo->store);
    auto token = users.issue_token(o.name);
    if (!token) {
        return report_error(ctx, token.error());
    }
    std::printf("%s\n", token->c_str());
    std::fflush(stdout);
    if (!ctx.json) {
        std::fprintf(stderr,
                     "a new token for %s: it is shown only now. Give it to them; they send it "
                     "as 'Authorization: Bearer TOKEN' or set SHIPSHAPE_TOKEN.\n",
                     o.name.c_str());
    }
    return 0;
}

int run_user_list(Context& ctx) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::UserService users(*repo->store);
    auto list = users.list();
    if (!list) {
        return report_error(ctx, list.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_user_list(*list).c_str());
        return 0;
    }
    if (list->empty()) {
        std::printf("no users (add one with: shipshape user add NAME --roles qa,dev)\n");
        return 0;
    }
    std::printf("%-20s %-24s %-7s %s\n", "USER", "ROLES", "TOKENS", "LAST USED");
    for (const auto& s : *list) {
        std::string roles;
        for (const auto& r : s.user.roles) {
            roles += (roles.empty() ? "" : ",") + r;
        }
        std::printf("%-20s %-24s %-7d %s\n", s.user.name.c_str(),
                    roles.empty() ? "-" : roles.c_str(), s.active_tokens,
                    s.last_used_at ? format_local_time(*s.last_used_at).c_str() : "never");
    }
    return 0;
}

int run_user_revoke(Context& ctx, const UserOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::UserService users(*repo->store);
    auto n = users.revoke(o.name);
    if (!n) {
        return report_error(ctx, n.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_user_revoked(o.name, *n).c_str());
    } else {
        std::printf("revoked %s of %s\n",
                    plural(static_cast<size_t>(*n), "token", "tokens").c_str(), o.name.c_str());
    }
    return 0;
}

}  // namespace

void add_user_commands(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<UserOptions>();
    auto* user = app.add_subcommand(
        "user", "Manage who may write through 'shipshape serve' or a shared store");
    user->require_subcommand(1);
    user->footer(
        "A user has a name and roles; a check-off through the server (or with SHIPSHAPE_TOKEN)\n"
        "needs a token of a user holding the step's role. Tokens are stored only as salted\n"
        "hashes: a lost token cannot be shown again, make a new one. Names and roles: 1 to 64\n"
        "characters of A-Z a-z 0-9 . _ -. Whoever can write the store manages its users.\n\n" +
        std::string(k_exit_code_help));

    auto* add = user->add_subcommand("add", "Add a user with roles (exit 2 if the name is taken)");
    add->add_option("NAME", opts->name, "the user's name")->required();
    add->add_option("--roles", opts->roles, "comma-separated roles, e.g. qa,dev");
    out.push_back({add, [opts](Context& ctx) { return run_user_add(ctx, *opts); }});

    auto* roles = user->add_subcommand("roles", "Replace a user's roles");
    roles->add_option("NAME", opts->name, "the user's name")->required();
    roles->add_option("ROLES", opts->roles, "comma-separated roles, e.g. qa,dev ('' for none)")
        ->required();
    out.push_back({roles, [opts](Context& ctx) { return run_user_roles(ctx, *opts); }});

    auto* token = user->add_subcommand(
        "token", "Make a new token for a user and print it, alone on stdout (shown only once)");
    token->add_option("NAME", opts->name, "the user's name")->required();
    out.push_back({token, [opts](Context& ctx) { return run_user_token(ctx, *opts); }});

    auto* list = user->add_subcommand(
        "list", "List users, their roles, how many live tokens they have and when last used");
    out.push_back({list, [](Context& ctx) { return run_user_list(ctx); }});

    auto* revoke = user->add_subcommand("revoke", "Revoke every token of a user");
    revoke->add_option("NAME", opts->name, "the user's name")->required();
    out.push_back({revoke, [opts](Context& ctx) { return run_user_revoke(ctx, *opts); }});
}

}  // namespace shipshape::cli
