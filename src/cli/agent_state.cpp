// plan / apply / drift in shipshape-agent: the agent's side of a controller's remote plan
// (`--as-host`), and plans of this machine in an ops repo. No store (nothing is recorded on the
// host: the controller records) and no fleet (a remote host is an error here).
#include <CLI/CLI.hpp>

#include "cli/agent_cmds.hpp"
#include "cli/state_args.hpp"

namespace shipshape::cli {

namespace {

int run_agent_state(Context& ctx, const StateOptions& o, app::StateMode mode) {
    auto req = make_state_request(ctx, o, mode);
    if (!req) {
        return report_error(ctx, req.error());
    }
    if (o.save || !o.env.empty() || !o.against.empty()) {
        return report_error(ctx, Error(Errc::unsupported,
                                       "drift --save, --env and --against need the store: run "
                                       "them with shipshape on the controller"));
    }
    auto project = open_project(ctx);
    if (!project) {
        return report_error(ctx, project.error());
    }
    auto runner = os::make_process_runner();
    app::StateService service(*project, nullptr, runner.get(), ctx.cancel);
    if (o.host_report) {
        return run_host_report(ctx, service, *req);
    }
    return run_and_print_state(ctx, service, mode, *req, o);
}

}  // namespace

void add_agent_state_commands(CLI::App& app, std::vector<Command>& out) {
    for (auto mode : {app::StateMode::plan, app::StateMode::apply, app::StateMode::drift}) {
        auto opts = std::make_shared<StateOptions>();
        auto* sub = add_state_subcommand(app, opts, mode);
        out.push_back(
            {sub, [opts, mode](Context& ctx) { return run_agent_state(ctx, *opts, mode); }});
    }
}

}  // namespace shipshape::cli
