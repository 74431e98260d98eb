// The commands of the host agent, in both binaries: `shipshape agent` and `shipshape-agent`
// (agent_main.cpp, the small static binary the controller copies to hosts).
//   agent [--protocol N]   the fleet protocol on stdin/stdout (started over ssh by a controller)
//   agent pull ...         pull mode: fetch the ops repo with git, converge, report
//   agent install-timer    a systemd service and timer that run `agent pull --once`
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/pull.hpp"
#include "cli/context.hpp"

namespace shipshape::cli {

// Where `agent pull --report` goes when it is not an http:// URL: a store (PostgreSQL URI or
// SQLite path), which only the full `shipshape` binary can open. The factory returns the
// error for everything else.
using StoreReporterFactory = std::function<Result<std::function<Status(const std::string&)>>(
    const Context& ctx, const std::string& location)>;

// Adds `agent` and its subcommands. `store_reporter` may be empty (shipshape-agent: reports
// go to a server URL only).
void add_agent_command(CLI::App& app, std::vector<Command>& out,
                       const StoreReporterFactory& store_reporter);

// Serves the fleet protocol on stdin/stdout (`agent` without a subcommand). `protocol` is the
// one the controller asked for (0: none asked).
int run_agent_serve(int protocol);

// `agent pull --report STORE` in the shipshape binary: the report is checked and recorded in
// that store (cmd_agent_store.cpp).
StoreReporterFactory store_pull_reporter();

// One line of `agent pull --json`: the cycle's report without its facts, plus "reported",
// "report_error" and "notes" (agent_json.cpp).
std::string pull_cycle_json(const app::PullCycle& cycle);
// `agent install-timer --json`: where the two units were written.
std::string timer_units_json(const std::string& service, const std::string& timer);

// shipshape-agent's plan, apply and drift (agent_state.cpp).
void add_agent_state_commands(CLI::App& app, std::vector<Command>& out);

}  // namespace shipshape::cli
