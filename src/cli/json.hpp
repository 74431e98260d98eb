// JSON renderings of reports, for --json. With cmd_fleet.cpp (exec's) the only cli file that
// includes nlohmann/json.
// Every document has a "kind" naming its shape (documented in docs/manual.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/facts_service.hpp"
#include "app/runs.hpp"
#include "app/state_service.hpp"
#include "app/users.hpp"
#include "checklist/engine.hpp"
#include "core/error.hpp"

namespace shipshape::cli {

std::string json_error(const Error& error, int exit_code);
std::string json_plan(const app::PlanReport& plan);
std::string json_run_report(const app::RunReport& report, int exit_code);
std::string json_runs(const std::vector<store::RunRecord>& runs);
std::string json_show(const app::RunDetails& details);
// `next_command` is empty when the run is live and takes the check-off up itself.
std::string json_check_off(const app::CheckOffReport& report, const std::string& next_command);
// `store migrate`: the store (password redacted) and its schema version before and after.
std::string json_store_migrate(const std::string& store, int64_t from, int64_t to);
std::string json_user_added(const std::string& name, const std::vector<std::string>& roles);
std::string json_user_list(const std::vector<app::UserSummary>& users);
std::string json_user_revoked(const std::string& name, int64_t revoked);
std::string json_init(const std::string& dir, const std::vector<std::string>& files);
std::string json_validate(const std::vector<std::string>& files,
                          const std::vector<std::string>& errors,
                          const std::vector<std::string>& warnings);

std::string json_hosts(const std::vector<app::SelectedHost>& hosts);
std::string json_facts(const std::vector<app::HostFactsResult>& results,
                       const std::vector<std::string>& sections);
std::string json_facts_diff(const std::string& left, const std::string& right,
                            const std::vector<facts::Difference>& diffs);
std::string json_require_check(const std::vector<require::CheckRow>& rows,
                               const std::vector<std::pair<std::string, Error>>& host_errors,
                               bool ok);
std::string json_facts_import(const std::string& host, int64_t snapshot);
std::string json_snapshots(const std::vector<store::FactsSnapshot>& snapshots);

// plan / apply / drift: one entry per host (a remote host's entries are its agent's), the
// tally of hosts by verdict and the notes.
std::string json_state(const app::StateOutcome& outcome, int exit_code);
std::string json_env_drift(const state::EnvComparison& comparison, int exit_code);

// Streams engine events as JSON lines on stdout, one object per event, flushed per line.
std::unique_ptr<checklist::RunObserver> make_json_lines_view();

}  // namespace shipshape::cli
