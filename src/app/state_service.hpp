// Use cases for desired state, shared by the command line and (later) the server and agent:
// which hosts get which state files, plan, apply, drift against the declared state and the
// comparison of two environments. Local hosts are handled in-process; remote hosts run the same
// code in their agent (`shipshape plan|apply|drift --as-host ...` inside a copy of the repo).
//
// StateService::run is the whole use case of `plan`, `apply` and `drift`: it splits the hosts
// into local and remote ones, takes the environment locks of an apply (the store's, see
// env_lock.hpp), fans out to remote agents, plans and applies locally, records the parameters
// each apply used per host (plan and drift reuse them when no --set is given), saves drift
// reports and merges exit codes. It prints nothing: the outcome is data for a view.
//
// Secrets: the values of the environment variables the project's `secrets` names are replaced
// by "***" in everything run() returns (changes, content diffs, command output, errors, notes,
// the remote hosts' text and JSON answers) and in the state reports it saves, so no view and
// no record needs to know about them.
//
// Threading: one StateService per command, used from one thread; run() fans out internally and
// touches the store from its own thread only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/fleet_service.hpp"
#include "app/hosts.hpp"
#include "app/project.hpp"
#include "core/clock.hpp"
#include "core/redact.hpp"
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
    std::string root = "/";                // --root, absolute
    std::string root_given;                // --root as given ("" when none): checked for remotes
    Variables params;                      // --set
    bool diffs = false;
    bool strict = false;
    bool all = false;            // --all: every entry of trees (remote output)
    std::string sync = "batch";  // --sync of an apply, passed to remote hosts
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

// The state files of `roles`, in the order [roles] lists them (roles without any add none).
std::vector<std::string> state_files_of(const Project& project,
                                        const std::vector<std::string>& roles);

enum class StateMode { plan, apply, drift };
const char* mode_name(StateMode mode);

// How run() treats each host, beyond the request.
struct StateRunOptions {
    state::SyncMode sync = state::SyncMode::batch;
    bool save = false;    // drift --save: store each host's state report
    bool json = false;    // remote hosts answer with JSON documents
    ProgressFn progress;  // hears about the remote fan-out
    // Called after each change a local apply made: (host, done, total).
    std::function<void(const HostTarget&, size_t, size_t)> on_apply_progress;
};

// How one host came out of a plan, apply or drift.
enum class HostVerdict {
    in_sync,  // plan/drift: nothing to do; apply: nothing changed or everything applied
    changed,  // plan: changes pending; drift: drifted; apply: changes applied
    failed,   // the host could not be planned, applied or reached, or a change failed
};

struct HostOutcome {
    HostTarget target;
    Variables params;              // what the host was planned with
    bool params_recorded = false;  // some came from the host's last apply (no --set for them)
    // A local host: its plan (with HostPlan::error when it failed) and, for apply, the report.
    std::optional<HostPlan> plan;
    std::optional<state::ApplyReport> report;
    // A remote host: what its agent answered, or why it could not be asked.
    std::optional<Result<RemoteResult>> remote;
    int code = 0;  // this host's exit code
    HostVerdict verdict = HostVerdict::in_sync;
};

struct StateOutcome {
    StateMode mode = StateMode::plan;
    std::vector<HostOutcome> hosts;  // in natural order of host names
    int exit_code = 0;               // the worst of the hosts'
    int64_t elapsed_ms = 0;          // of the local work (plan, apply)
    std::vector<std::string> notes;  // lock take-overs, parameters reused from an apply

    // Names of the hosts with `verdict`, in order.
    std::vector<std::string> hosts_with(HostVerdict verdict) const;
};

class StateService {
  public:
    // `store` may be null (nothing saved, no apply lock, no recorded parameters); `runner` runs
    // guards, apt, useradd and commands; `clock` stamps locks and records and times applies.
    StateService(const Project& project, store::Store* store, os::ProcessRunner* runner,
                 const os::CancelSource* cancel, const Clock& clock = system_clock());

    // Plans, applies or checks drift on every host the request names (see the file comment).
    // Fails as a whole only before any host is touched: no hosts (Errc::invalid_argument), a
    // --root that is no directory here for local hosts or is relative for remote ones
    // (Errc::invalid_argument), remote hosts without use_fleet (Errc::unsupported), an apply
    // whose environment is locked (Errc::conflict naming the holder), a store failure
    // (Errc::store). Per-host failures are in the outcome.
    [[nodiscard]] Result<StateOutcome> run(StateMode mode, const StateRequest& request,
                                           const StateRunOptions& options);

    // The argv of `shipshape` a remote host's agent runs for `mode` ("plan", "apply", "drift"):
    // the request's flags, `params` as --set, the host as --as-host, and `extra` last.
    std::vector<std::string> remote_args(const HostTarget& target, const std::string& mode,
                                         const StateRequest& request, const Variables& params,
                                         const std::vector<std::string>& extra, bool json) const;

    // The parameters `host` is planned with: those its last apply used (when the store knows
    // them), overridden by the request's --set. `recorded` says whether any came from the store.
    [[nodiscard]] Result<Variables> params_for(const std::string& host, const Variables& given,
                                               bool* recorded) const;

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
    // The state report document of a planned host (what drift --save stores), redacted.
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

    // A remote host as its agent describes it, live (with its drift count).
    [[nodiscard]] Result<state::HostState> agent_host_state(const SelectedHost& host,
                                                            const Variables& params) const;
    // A host as the store last saw it (drift --save reports, facts snapshots).
    [[nodiscard]] Result<state::HostState> stored_host_state(const SelectedHost& host) const;

  private:
    [[nodiscard]] Result<state::DesiredState> load(const HostTarget& target,
                                                   const StateRequest& request) const;
    [[nodiscard]] Result<state::HostState> host_state(const SelectedHost& host,
                                                      const Variables& params);

    // The local half of run(): plans (and applies) one local host.
    void run_local(StateMode mode, HostOutcome& host, const StateRequest& request,
                   const StateRunOptions& options);
    // The remote half of run(): every remote host through its agent, in parallel.
    void run_remotes(StateMode mode, std::vector<HostOutcome*>& hosts, const StateRequest& request,
                     const StateRunOptions& options);
    int64_t now_ms() const;
    // Replaces the secrets' values in everything `out` holds that a view prints.
    void redact(StateOutcome& out) const;

    const Project& m_project;
    store::Store* m_store;
    os::ProcessRunner* m_runner;
    const os::CancelSource* m_cancel;
    const Clock& m_clock;
    state::HashCache m_cache;
    FleetService* m_fleet = nullptr;
    Redactor m_redactor;
};

// The agent's side of a remote run: sets `request.self` and `self_roles` from the JSON object a
// controller passes as --as-host (see StateService::remote_args). Errc::invalid_argument when it
// is not a JSON object.
[[nodiscard]] Status parse_as_host(const std::string& text, StateRequest& request);

// Flattens a facts JSON document into template variables: "facts.os.hostname", ...
Variables facts_variables(const std::string& facts_json);

}  // namespace shipshape::app
