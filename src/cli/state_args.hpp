// What `shipshape plan|apply|drift` and the agent's side of a remote plan (shipshape-agent, see
// agent_main.cpp) share: their options, the request they make and how an outcome is printed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/state_service.hpp"
#include "cli/context.hpp"

namespace CLI {
class App;
}

namespace shipshape::cli {

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

// The request the options make; Errc::invalid_argument for a bad --set or --as-host.
[[nodiscard]] Result<app::StateRequest> make_state_request(const Context& ctx,
                                                           const StateOptions& o,
                                                           app::StateMode mode);
// --sync: batch, fsync or none.
[[nodiscard]] Result<state::SyncMode> parse_sync(const std::string& text);

// Adds `name` (plan, apply or drift) with every option of that mode to `app`.
CLI::App* add_state_subcommand(CLI::App& app, const std::shared_ptr<StateOptions>& opts,
                               app::StateMode mode);

// drift --host-report: the agent describes its one host as a state report document on stdout.
int run_host_report(Context& ctx, app::StateService& service, const app::StateRequest& req);

// Runs the request on `service` and prints the outcome (JSON with --json, else the text view);
// returns the exit code.
int run_and_print_state(Context& ctx, app::StateService& service, app::StateMode mode,
                        const app::StateRequest& req, const StateOptions& o);

}  // namespace shipshape::cli
