// shipshape plan / apply / drift: parses, calls app::StateService, prints (cli/state_view).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/state_service.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"
#include "cli/state_args.hpp"
#include "cli/state_view.hpp"

namespace shipshape::cli {

namespace {

int run_state(Context& ctx, const StateOptions& o, app::StateMode mode) {
    auto req = make_state_request(ctx, o, mode);
    if (!req) {
        return report_error(ctx, req.error());
    }
    if (auto sync = parse_sync(o.sync); !sync) {
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
    return run_and_print_state(ctx, service, mode, *req, o);
}

int run_env_drift(Context& ctx, const StateOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto req = make_state_request(ctx, o, app::StateMode::drift);
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

}  // namespace

void add_state_commands(CLI::App& app, std::vector<Command>& out) {
    auto plan_opts = std::make_shared<StateOptions>();
    auto* plan = add_state_subcommand(app, plan_opts, app::StateMode::plan);
    out.push_back({plan, [plan_opts](Context& ctx) {
                       return run_state(ctx, *plan_opts, app::StateMode::plan);
                   }});

    auto apply_opts = std::make_shared<StateOptions>();
    auto* apply = add_state_subcommand(app, apply_opts, app::StateMode::apply);
    out.push_back({apply, [apply_opts](Context& ctx) {
                       return run_state(ctx, *apply_opts, app::StateMode::apply);
                   }});

    auto drift_opts = std::make_shared<StateOptions>();
    auto* drift = add_state_subcommand(app, drift_opts, app::StateMode::drift);
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
