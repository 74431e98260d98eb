// Use cases for desired state, shared by the command line and (later) the server and agent:
// which hosts get which state files, plan, apply, drift against the declared state and the
// comparison of two environments. Local hosts are handled in-process; remote hosts run the same
// code in their agent (`shipshape plan|apply|drift --as-host ...` inside a copy of the repo).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/fleet_service.hpp"
#include "app/hosts.hpp"
#include "app/project.hpp"
#include "core/template.hpp"
#include "os/process.hpp"
#include "state/apply.hpp"
#include "state/load.hpp"
#include "state/plan.hpp"
#include "state/report.hpp"
#include "store/store.hpp"

namespace shipshape::app {

struct StateRequest {
    std::vector<std::string> patterns;     // host patterns; empty: this machine
    std::vector<std::string> state_files;  // --state: use these instead of the hosts' roles
    std::string root = "/";                // --root
    Variables params;                      // --set
    bool diffs = false;
    bool strict = false;
    // The agent's side: plan for this host (as the controller named it) instead of the
    // inventory's, with `state_files` (possibly none).
    std::optional<SelectedHost> self;
    std::vector<std::string> self_roles;
};

struct HostTarget {
    SelectedHost host;
    std::vector<std::string> roles;
    std::vector<std::string> state_files;
};

// What a remote host's agent answered for a plan, apply or drift.
struct RemoteResult {
    int code = -1;
    std::string out;  // the command's stdout (text, or JSON with --json)
    std::string err;
};

struct HostPlan {
    HostTarget target;
    std::optional<state::DesiredState> state;
    std::optional<state::Plan> plan;
    std::optional<Error> error;  // loading or planning failed, or the host is remote
};

class StateService {
  public:
    // `store` may be null (nothing saved); `runner` runs guards, apt, useradd and commands.
    StateService(const Project& project, store::Store* store, os::ProcessRunner* runner,
                 const os::CancelSource* cancel);

    // The hosts a request names, with their roles and state files. Errc::invalid_argument for
    // patterns matching nothing; a host without roles (and no --state) is an error naming it.
    [[nodiscard]] Result<std::vector<HostTarget>> targets(const StateRequest& request) const;

    // Loads, validates and plans one host. Never fails as a whole: see HostPlan::error.
    HostPlan plan(const HostTarget& target, const StateRequest& request);

    // Applies a successful plan and saves the hash cache (reports are saved by drift --save).
    state::ApplyReport apply(
        HostPlan& plan, const StateRequest& request, state::SyncMode sync,
        const std::function<void(const state::Change&, bool, const std::string&)>& on_done);

    // Saves the host's state report (drift --save), when a store is open.
    void save_report(const HostPlan& plan, const StateRequest& request);
    // The state report document of a planned host (what drift --save stores).
    std::string report_document(const HostPlan& plan, const StateRequest& request) const;

    // Remote hosts: `fleet` reaches them (without one they are unsupported).
    void use_fleet(FleetService* fleet) { m_fleet = fleet; }
    // Runs `shipshape [--json] MODE ARGS --as-host ...` for a remote target on its agent.
    [[nodiscard]] Result<RemoteResult> run_remote(const HostTarget& target, const std::string& mode,
                                                  const StateRequest& request,
                                                  const std::vector<std::string>& extra,
                                                  bool json) const;

    // Compares two environments' hosts: live for this machine, else the newest stored facts
    // snapshot and state report.
    [[nodiscard]] Result<state::EnvComparison> compare_envs(const std::string& left,
                                                            const std::string& right,
                                                            const Variables& params);

    // Saves the hash cache (plan and drift call it; apply does it itself).
    void save_cache();

  private:
    [[nodiscard]] Result<state::DesiredState> load(const HostTarget& target,
                                                   const StateRequest& request) const;
    [[nodiscard]] Result<state::HostState> host_state(const SelectedHost& host,
                                                      const Variables& params);
    // A remote host as its agent describes it, live.
    [[nodiscard]] Result<state::HostState> agent_host_state(const SelectedHost& host,
                                                            const Variables& params) const;
    // A remote host as the store last saw it (drift --save reports, facts snapshots).
    [[nodiscard]] Result<state::HostState> stored_host_state(const SelectedHost& host) const;

    const Project& m_project;
    store::Store* m_store;
    os::ProcessRunner* m_runner;
    const os::CancelSource* m_cancel;
    state::HashCache m_cache;
    FleetService* m_fleet = nullptr;
};

// Flattens a facts JSON document into template variables: "facts.os.hostname", ...
Variables facts_variables(const std::string& facts_json);

}  // namespace shipshape::app
