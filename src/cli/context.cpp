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
    std::string root;
    if (!ctx.directory.empty()) {
        root = os::path_absolute(ctx.directory, ctx.cwd);
        if (!os::make_local_file_system()->exists(root + "/shipshape.toml")) {
            return fail(Errc::not_found, "no shipshape.toml in '" + root +
                                             "' (given with -C): run 'shipshape init " +
                                             ctx.directory + "' to create an ops repo there");
        }
    } else {
        auto found = app::find_project_root(ctx.cwd);
        if (!found) {
            return fail(found.error());
        }
        root = *found;
    }
    auto project = app::load_project(root);
    if (!project) {
        return fail(project.error());
    }
    // Still redacted (hiding too much never leaks), but the output is then hard to read.
    for (const auto& name : app::short_secrets(*project)) {
        std::fprintf(stderr,
                     "warning: secret %s holds fewer than %zu characters: every occurrence of "
                     "its value in output, logs and the journal becomes ***\n",
                     name.c_str(), Redactor::k_min_safe_length);
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

std::string plural(size_t n, const std::string& one, const std::string& many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string format_local_time(int64_t ms) {
    std::time_t secs = ms / 1000;
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

int report_error(const Context& ctx, const Error& error) {
    const int code = to_int(exit_code_for(error.code()));
    if (ctx.json) {
        std::printf("%s\n", json_error(error, code).c_str());
        std::fflush(stdout);
    } else {
        const std::string& m = error.message();
        if (m.find('\n') != std::string::npos) {
            // Several diagnostics: one per line, each already "file:line:col: message".
            std::fprintf(
                stderr, "shipshape: %s\n",
                error.code() == Errc::invalid_definition ? "invalid definition:" : "error:");
            size_t start = 0;
            while (start < m.size()) {
                size_t nl = m.find('\n', start);
                if (nl == std::string::npos) {
                    nl = m.size();
                }
                std::fprintf(stderr, "  %.*s\n", static_cast<int>(nl - start), m.data() + start);
                start = nl + 1;
            }
        } else {
            std::fprintf(stderr, "shipshape: %s\n", m.c_str());
        }
    }
    return code;
}

Result<std::unique_ptr<app::FleetService>> open_fleet(const Context& ctx,
                                                      const app::Project& project, int forks) {
    auto f = app::FleetService::create(project, ctx.cancel, SHIPSHAPE_VERSION);
    if (f && forks > 0) {
        (*f)->set_forks(forks);
    }
    return f;
}

app::ProgressFn fanout_progress(const Context& ctx) {
    if (ctx.json || ::isatty(STDERR_FILENO) == 0) {
        return {};
    }
    return [](const app::FanoutCounts& c) {
        std::fprintf(stderr, "\r\033[K  %s: %zu/%zu done", c.what.c_str(), c.done, c.total);
        if (c.failed) {
            std::fprintf(stderr, ", %zu failed", c.failed);
        }
        if (c.running) {
            std::fprintf(stderr, ", %zu running", c.running);
        }
        if (c.done == c.total) {
            std::fputs("\r\033[K", stderr);
        }
        std::fflush(stderr);
    };
}

}  // namespace shipshape::cli
