#include "cli/context.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "app/secrets.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"
#include "core/redact.hpp"
#include "os/file_system.hpp"

#ifndef SHIPSHAPE_VERSION
#define SHIPSHAPE_VERSION "0.0.0"
#endif

namespace shipshape::cli {

std::string store_location(const Context& ctx, const app::Project& project) {
    if (ctx.store.empty()) {
        return project.store_location();
    }
    if (ctx.store.find("://") != std::string::npos) {
        return ctx.store;
    }
    const std::string& s = ctx.store;
    return os::path_absolute(s.rfind("sqlite:", 0) == 0 ? s.substr(7) : s, ctx.cwd);
}

Result<OpenRepo> open_repo(const Context& ctx, NeedStore need) {
    auto project = open_project(ctx);
    if (!project) {
        return fail(project.error());
    }
    if (need == NeedStore::no) {
        return OpenRepo{std::move(*project), nullptr, os::make_process_runner()};
    }
    auto fs = os::make_local_file_system();
    if (auto st = fs->create_directories(project->state_dir()); !st) {
        return fail(st.error());
    }
    // .shipshape holds the journal and step logs: owner only (best effort on a shared mount).
    (void)os::restrict_to_owner(project->state_dir());
    auto store = store::open_store(store_location(ctx, *project));
    if (!store) {
        return fail(store.error());
    }
    return OpenRepo{std::move(*project), std::move(*store), os::make_process_runner()};
}

Result<std::optional<app::Identity>> authenticated_user(const Context& ctx, OpenRepo& repo) {
    const char* token = std::getenv("SHIPSHAPE_TOKEN");
    const std::string location = store_location(ctx, repo.project);
    const bool shared =
        location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
    if (token == nullptr && !shared) {
        return std::optional<app::Identity>();
    }
    if (token != nullptr && *token == '\0') {
        return fail(Errc::invalid_argument,
                    "SHIPSHAPE_TOKEN is set but empty: set it to your token (from 'shipshape "
                    "user token NAME'), or unset it");
    }
    if (token == nullptr) {
        return fail(Errc::invalid_argument,
                    "the store is shared (PostgreSQL): set SHIPSHAPE_TOKEN to your token "
                    "(from 'shipshape user token NAME') to act as your user");
    }
    app::UserService users(*repo.store);
    auto who = users.authenticate(token);
    if (!who) {
        if (who.error().code() == Errc::permission_denied) {
            return fail(Errc::invalid_argument, "SHIPSHAPE_TOKEN: " + who.error().message());
        }
        return fail(who.error());
    }
    return std::optional<app::Identity>(std::move(*who));
}

Result<OpenRepo> open_repo_or_here(const Context& ctx, NeedStore need) {
    if (ctx.directory.empty() && !app::find_project_root(ctx.cwd)) {
        OpenRepo here{app::Project{}, nullptr, os::make_process_runner(), false};
        here.project.root = ctx.cwd;
        return here;
    }
    return open_repo(ctx, need);
}

Result<std::string> resolve_run_id(store::Store& store, const std::string& id) {
    if (id != "last") {
        return id;
    }
    auto runs = store.list_runs(1);
    if (!runs) {
        return fail(runs.error());
    }
    if (runs->empty()) {
        return fail(Errc::not_found, "there are no runs yet");
    }
    return runs->front().id;
}

Result<OpenRun> open_run(const Context& ctx, const std::string& id) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return fail(repo.error());
    }
    auto run_id = resolve_run_id(*repo->store, id);
    if (!run_id) {
        return fail(run_id.error());
    }
    return OpenRun{std::move(*repo), std::move(*run_id)};
}

Result<std::unique_ptr<app::FleetService>> open_fleet(const Context& ctx,
                                                      const app::Project& project, int forks) {
    auto f = app::FleetService::create(project, ctx.cancel, SHIPSHAPE_VERSION);
    if (f && forks > 0) {
        (*f)->set_forks(forks);
    }
    if (f) {
        (*f)->set_bundle_extras(app::bundle_deb_manifests);
    }
    return f;
}

}  // namespace shipshape::cli
