// The terminal view of plan, apply and drift (and drift --env): what StateService::run found,
// printed for people, plus the exit code an outcome means. Only cli prints.
#pragma once

#include <string>

#include "app/state_service.hpp"
#include "cli/context.hpp"

namespace shipshape::cli {

// The exit code of an outcome: the worst of its hosts'.
int state_exit_code(const app::StateOutcome& outcome);

// One line over every host, for more than one: "drift: 2 of 11 hosts drifted (h3, h7); 9 in
// sync". Empty for a single host.
std::string state_tally(const app::StateOutcome& outcome);

// Prints every host's plan (and apply report), the remote hosts' own output, notes and the
// tally. `diffs`: show content diffs; `all`: every entry of trees.
void print_state_outcome(const Context& ctx, const app::StateOutcome& outcome, bool diffs,
                         bool all);

void print_env_drift(const Context& ctx, const state::EnvComparison& comparison,
                     const std::string& left, const std::string& right);

}  // namespace shipshape::cli
