// shipshape plan / apply / drift: parses, calls app::StateService, prints (cli/state_view).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/state_service.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"
#include "cli/state_view.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

namespace {

struct StateOptions {
    std::vector<std::string> hosts;
    std::vector<std::string> states;
    std::vector<std::string> sets;
    std::string root;
    std::string sync = "batch";
    bool no_diff = false;
    bool strict = false;
    bool save = false;
    bool all = false;
    std::string env;
    std::string against;
    std::string as_host;  // the agent's side: plan for this host (JSON), see StateRequest::self
    bool host_report = false;
    int forks = 0;
};

Result<app::StateRequest> make_request(const Context& ctx, const StateOptions& o,
                                       app::StateMode mode) {
    app::StateRequest req;
    req.patterns = o.hosts;
    req.state_files = o.states;
    req.diffs = !o.no_diff && mode != app::StateMode::apply;
    req.strict = o.strict;
    req.all = o.all;
    req.sync = o.sync;
    for (const auto& kv : o.sets) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            return fail(Errc::invalid_argument, "--set '" + kv + "': expected NAME=VALUE");
        }
        req.params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!o.as_host.empty()) {
        if (auto st = app::parse_as_host(o.as_host, req); !st) {
            return fail(st.error());
        }
    }
    if (!o.root.empty()) {
        req.root_given = o.root;
        req.root = os::path_absolute(o.root, ctx.cwd);
        while (req.root.size() > 1 && req.root.back() == '/') {
            req.root.pop_back();
        }
    }
    return req;
}

Result<state::SyncMode> parse_sync(const std::string& text) {
    if (text == "batch") {
        return state::SyncMode::batch;
    }
    if (text == "fsync") {
        return state::SyncMode::fsync;
    }
    if (text == "none") {
        return state::SyncMode::none;
    }
    return fail(Errc::invalid_argument, "--sync " + text + ": expected batch, fsync or none");
}

// drift --host-report: the agent describes its one host as a state report document.
int run_host_report(Context& ctx, app::StateService& service, const app::StateRequest& req) {
    auto targets = service.targets(req);
    if (!targets) {
        return report_error(ctx, targets.error());
    }
    if (targets->size() != 1) {
        return report_error(
            ctx, Error(Errc::invalid_argument, "--host-report describes one host (the agent's)"));
    }
    auto hp = service.plan(targets->front(), req);
    if (hp.error) {
        return report_error(ctx, *hp.error);
    }
    std::printf("%s\n", service.report_document(hp, req).c_str());
    return 0;
}

int run_state(Context& ctx, const StateOptions& o, app::StateMode mode) {
    auto req = make_request(ctx, o, mode);
    if (!req) {
        return report_error(ctx, req.error());
    }
    auto sync = parse_sync(o.sync);
    if (!sync) {
        return report_error(ctx, sync.error());
    }
    // The controller's store holds the apply lock and each host's applied parameters; an agent
    // (--as-host) is told everything and keeps no records.
    const bool agent_side = req->self.has_value();
    auto repo = open_repo(ctx, agent_side ? NeedStore::no : NeedStore::yes);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::StateService service(repo->project, repo->store.get(), repo->runner.get(), ctx.cancel);
    if (o.host_report) {
        return run_host_report(ctx, service, *req);
    }
    std::unique_ptr<app::FleetService> fleet;
    if (!agent_side) {
        auto f = open_fleet(ctx, repo->project, o.forks);
        if (!f) {
            return report_error(ctx, f.error());
        }
        fleet = std::move(*f);
        service.use_fleet(fleet.get());
    }
    app::StateRunOptions options;
    options.sync = *sync;
    options.save = o.save;
    options.json = ctx.json;
    options.progress = fanout_progress(ctx);
    if (mode == app::StateMode::apply && ctx.tty && !ctx.json) {
        options.on_apply_progress = [](const app::HostTarget&, size_t done, size_t total) {
            if (total >= 200 && (done % 100 == 0 || done == total)) {
                std::fprintf(stderr, "\r  applying %zu/%zu%s", done, total,
                             done == total ? "\n" : "");
            }
        };
    }
    auto outcome = service.run(mode, *req, options);
    if (!outcome) {
        return report_error(ctx, outcome.error());
    }
    const int exit_code = state_exit_code(*outcome);
    if (ctx.json) {
        std::printf("%s\n", json_state(*outcome, exit_code).c_str());
    } else {
        print_state_outcome(ctx, *outcome, req->diffs, o.all);
    }
    return exit_code;
}

int run_env_drift(Context& ctx, const StateOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto req = make_request(ctx, o, app::StateMode::drift);
    if (!req) {
        return report_error(ctx, req.error());
    }
    app::StateService service(repo->project, repo->store.get(), repo->runner.get(), ctx.cancel);
    auto fleet = open_fleet(ctx, repo->project, o.forks);
    if (!fleet) {
        return report_error(ctx, fleet.error());
    }
    service.use_fleet(fleet->get());
    auto cmp = service.compare_envs(o.env, o.against, req->params);
    if (!cmp) {
        return report_error(ctx, cmp.error());
    }
    int exit_code = cmp->difference_count() ? to_int(ExitCode::failed) : 0;
    if (ctx.json) {
        std::printf("%s\n", json_env_drift(*cmp, exit_code).c_str());
    } else {
        print_env_drift(ctx, *cmp, o.env, o.against);
    }
    return exit_code;
}

CLI::App* add_common(CLI::App& app, const std::shared_ptr<StateOptions>& opts, const char* name,
                     const char* help) {
    auto* sub = app.add_subcommand(name, help);
    sub->add_option("HOSTS", opts->hosts,
                    "host patterns: NAME, web*, group:NAME, env:NAME (default: this machine)");
    // One value per flag, so that HOSTS after them stay hosts.
    sub->add_option("--state", opts->states,
                    "use this state file (repo-relative, repeatable) instead of the hosts' roles")
        ->allow_extra_args(false);
    sub->add_option("--root", opts->root,
                    "treat DIR as the file system root (image builds, tests)");
    sub->add_option("--set,-s", opts->sets, "template variable NAME=VALUE (repeatable)")
        ->allow_extra_args(false);
    sub->add_flag("--all", opts->all, "list every entry of trees, not the first ten");
    sub->add_option("--forks", opts->forks, "remote hosts at once (default: all, up to 64)")
        ->check(CLI::Range(1, 1000));
    // The agent's side of a remote run: not for people.
    sub->add_option("--as-host", opts->as_host)->group("");
    return sub;
}

}  // namespace

void add_state_commands(CLI::App& app, std::vector<Command>& out) {
    auto plan_opts = std::make_shared<StateOptions>();
    auto* plan = add_common(app, plan_opts, "plan",
                            "Show what apply would change on hosts, as a diff; changes nothing");
    plan->add_flag("--no-diff", plan_opts->no_diff, "do not show file content diffs");
    out.push_back({plan, [plan_opts](Context& ctx) {
                       return run_state(ctx, *plan_opts, app::StateMode::plan);
                   }});

    auto apply_opts = std::make_shared<StateOptions>();
    auto* apply = add_common(app, apply_opts, "apply",
                             "Converge hosts to their declared state; exit 1 if anything failed");
    apply->add_option("--sync", apply_opts->sync,
                      "durability: batch (one syncfs, default), fsync (per file) or none");
    out.push_back({apply, [apply_opts](Context& ctx) {
                       return run_state(ctx, *apply_opts, app::StateMode::apply);
                   }});

    auto drift_opts = std::make_shared<StateOptions>();
    auto* drift = add_common(
        app, drift_opts, "drift",
        "Exit 1 when hosts differ from their declared state; --env A --against B compares two "
        "environments");
    drift->add_flag("--strict", drift_opts->strict,
                    "also report unmanaged entries in managed directories and trees");
    drift->add_flag("--no-diff", drift_opts->no_diff, "do not show file content diffs");
    drift->add_flag("--save", drift_opts->save,
                    "save each host's state report in the store (for later comparisons)");
    drift->add_flag("--host-report", drift_opts->host_report)->group("");
    drift->add_option("--env", drift_opts->env, "compare this environment ...");
    drift->add_option("--against", drift_opts->against, "... with this one");
    out.push_back(
        {drift, [drift_opts](Context& ctx) {
             if (!drift_opts->env.empty() || !drift_opts->against.empty()) {
                 if (!drift_opts->root.empty() || !drift_opts->states.empty() ||
                     drift_opts->strict || drift_opts->save || !drift_opts->hosts.empty()) {
                     return report_error(ctx, Error(Errc::invalid_argument,
                                                    "--env/--against compares environments' hosts "
                                                    "as assigned: HOSTS, --state, --root, --strict "
                                                    "and --save do not apply"));
                 }
                 if (drift_opts->env.empty() || drift_opts->against.empty()) {
                     return report_error(ctx, Error(Errc::invalid_argument,
                                                    "--env and --against go together: drift --env "
                                                    "staging --against prod"));
                 }
                 return run_env_drift(ctx, *drift_opts);
             }
             return run_state(ctx, *drift_opts, app::StateMode::drift);
         }});
}

}  // namespace shipshape::cli
