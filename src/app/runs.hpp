// Use cases for checklist runs, shared by the command line and (later) the server: plan,
// start, resume, undo, check off, list and show. A RunService works on one loaded Project and
// one open Store; it writes per-step logs under .shipshape/runs/RUN/ and never prints.
//
// Every use case that executes steps holds, for its duration, the lock of the run's environment
// and of every environment whose hosts its rendered steps run on (run_locks.hpp), taken before
// the first step starts: a second run touching any of them is refused (Errc::conflict naming
// the holder), and a lock whose holder process is dead is taken over (reported in
// RunReport::notes).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/fleet_service.hpp"
#include "app/project.hpp"
#include "app/run_live.hpp"
#include "checklist/engine.hpp"
#include "checklist/load.hpp"
#include "checklist/model.hpp"
#include "core/redact.hpp"
#include "store/store.hpp"

namespace shipshape::app {

struct StartRequest {
    std::string checklist_file;  // as the user wrote it
    std::string cwd;             // to resolve a relative checklist_file
    std::string env;             // empty: the project's default_env
    std::vector<std::pair<std::string, std::string>> params;
    bool undo_on_failure = false;
    int parallel = 0;  // 0: the checklist's own
    std::string user;  // who starts it (recorded in the run); empty: current_user()
    // The release this run carries (`run --release`): recorded as the run's k_release_event
    // event, which the `after` gate of the next stage looks for. Gates are checked by the caller.
    std::string release_id;
};

// The kind of the run event that binds a run to a release (its detail is the release id).
inline constexpr std::string_view k_release_event = "release";

struct PlannedStep {
    std::string id;
    int wave = 0;  // 1 + the largest wave among its needs: steps of one wave may run together
    std::vector<std::string> needs;
    std::string action;   // the command as it would run, or the manual instruction
    std::string role;     // manual steps
    std::string verdict;  // "run", "skip", "check-off", "done" (resume plans)
    std::string reason;   // why it would be skipped
};

struct PlanReport {
    std::string checklist_name;
    std::string checklist_path;
    std::string env;
    int parallel = 0;
    std::vector<PlannedStep> steps;    // topological order
    std::vector<Diagnostic> warnings;  // checklist::shell_warnings: unquoted params in `sh`
};

struct RunReport {
    store::RunRecord run;
    checklist::RunOutcome outcome;
    std::optional<checklist::RunOutcome> undo;  // when --undo-on-failure ran
    std::string run_dir;
    std::vector<std::string> notes;  // e.g. a stale lock was taken over
    size_t undoable = 0;             // after a failure: completed steps `undo` would reverse
    // Step output that could not be stored (e.g. a full disk): the run fails loudly, and the
    // log files under run_dir still hold it.
    std::optional<Error> log_error;
    const checklist::Checklist* checklist = nullptr;  // valid while the service lives
    // The audit ledger's newest entry once the run's end was recorded (#17), so that the head
    // can be printed and written down elsewhere; nullopt when it could not be read.
    std::optional<store::AuditEntry> audit_head{};
};

struct StepView {
    store::StepRecord record;  // state "pending" when the journal has nothing yet
    std::string kind;          // "command" or "manual"
    std::string role;
    std::vector<std::string> needs;  // the checklist's `needs` (none for "host" rows)
    std::string log_path;            // empty when no log file exists in this working copy
    bool has_log = false;            // log lines in the store, or a log file here
    std::vector<store::CheckOff> check_offs;
};

// A recorded check-off with what the operator needs to see that it was the run they meant.
struct CheckOffReport {
    store::CheckOff check_off;
    std::string env;
    std::string checklist_name;
    std::string checklist_path;
    // The run's process is executing other steps: it takes the check-off up itself (the steps
    // that need it run once its running steps finish), so no `resume` is needed.
    bool live = false;
    int64_t pid = 0;
    std::string signature_file;  // a signed check-off: signoffs/runs/RUN/STEP.json
};

struct RunDetails {
    store::RunRecord run;
    std::vector<StepView> steps;  // checklist order
    std::vector<store::Event> events;
};

class RunService {
  public:
    RunService(const Project& project, store::Store& store, os::ProcessRunner& runner,
               const os::CancelSource& cancel);
    ~RunService();

    // Loads, validates and renders; evaluates each step's `unless` (read-only guards) and runs
    // nothing else. Errc::invalid_definition / invalid_argument for bad input.
    [[nodiscard]] Result<PlanReport> plan(const StartRequest& request);
    [[nodiscard]] Result<RunReport> start(const StartRequest& request,
                                          checklist::RunObserver& observer);
    // Continues a run: complete steps are never rerun; steps that were running when the run
    // stopped are rerun (after their `unless`), leftovers of their processes stopped first.
    [[nodiscard]] Result<RunReport> resume(const std::string& run_id,
                                           checklist::RunObserver& observer);
    // Runs the `undo` of the run's completed steps, last completed first.
    [[nodiscard]] Result<RunReport> undo(const std::string& run_id,
                                         checklist::RunObserver& observer);
    // Records a check-off of a waiting manual step. `by` (empty: current_user()) may not hold
    // control characters or invalid UTF-8, nor may `note` apart from newlines and tabs
    // (core/text.hpp): Errc::invalid_argument saying which character. Errc::permission_denied
    // for the wrong role, Errc::conflict when the step is not waiting, Errc::not_found for an
    // unknown run or step.
    [[nodiscard]] Result<CheckOffReport> check_off(const std::string& run_id,
                                                   const std::string& step_id,
                                                   const std::string& role, const std::string& by,
                                                   const std::string& note);
    // A signed check-off (the step may have `signed = true`, and must then be checked off so):
    // signs the run, step, role, the checklist's hash, the time and the note with `key` through
    // ssh-keygen -Y sign (release_service.hpp), checks the signature against allowed_signers and
    // signers.toml as sign-offs are, records the check-off by the signer's principal, appends a
    // "signed-check-off" audit entry with the signature and writes signoffs/runs/RUN/STEP.json.
    // Errc::permission_denied when the signature would not count (the reason in the message).
    [[nodiscard]] Result<CheckOffReport> signed_check_off(const std::string& run_id,
                                                          const std::string& step_id,
                                                          const std::string& role,
                                                          const std::string& note,
                                                          const std::string& key);
    // The run `check-off last STEP` means: the one run whose step `step_id` waits for a
    // check-off. Errc::conflict when none does; Errc::invalid_argument listing them (newest
    // first, with environment and checklist) when several do, as guessing could confirm a
    // different run than the operator has in mind.
    [[nodiscard]] Result<std::string> run_waiting_at(const std::string& step_id);
    // The newest runs, at most `limit`; status "interrupted" shown for a running run whose
    // process is gone.
    [[nodiscard]] Result<std::vector<store::RunRecord>> list(int limit);
    // The newest runs `filter` matches (store::RunFilter), filtered by the database; a status
    // filter matches the status as shown, so "interrupted" finds the recorded running or
    // undoing runs whose process is gone, and "running" leaves them out.
    [[nodiscard]] Result<std::vector<store::RunRecord>> list(const store::RunFilter& filter);
    [[nodiscard]] Result<RunDetails> show(const std::string& run_id);
    // A step's log as the store holds it (lines joined, each ending in a newline); for a run
    // recorded before log lines were in the store, its file; "" when there is neither.
    [[nodiscard]] Result<std::string> step_log(const std::string& run_id,
                                               const std::string& step_id);

    // `run --wait`, `resume --wait`: wait for check-offs instead of stopping as waiting
    // (run_live.hpp).
    void wait_for_check_offs(WaitOptions options) { m_wait = std::move(options); }

    // Steps with `on` reach remote hosts through `fleet` (without one they fail, naming why).
    void use_fleet(FleetService* fleet) { m_fleet = fleet; }

    std::string run_dir(const std::string& run_id) const;
    std::string log_path(const std::string& run_id, const std::string& step_id) const;

  private:
    struct Loaded;
    // A check-off's run, once its step is known to be manual, of `role` and waiting.
    struct CheckOffTarget {
        store::RunRecord run;
        bool signed_check_off = false;
    };
    [[nodiscard]] Result<CheckOffTarget> check_off_target(const std::string& run_id,
                                                          const std::string& step_id,
                                                          const std::string& role,
                                                          const std::string& note);
    [[nodiscard]] Result<CheckOffReport> record_check_off(const store::RunRecord& run,
                                                          const store::CheckOff& check_off);
    // The request's environment (or the default), if the inventory has it.
    [[nodiscard]] Result<std::string> resolve_env(const StartRequest& request) const;
    [[nodiscard]] Result<std::unique_ptr<Loaded>> load_run(const store::RunRecord& run);
    // A stored run made ready to continue: loaded, its environment locked, its journal read.
    struct Reopened {
        store::RunRecord run;
        std::unique_ptr<Loaded> loaded;
        std::vector<std::string> notes;
        std::vector<store::StepRecord> steps;
    };
    [[nodiscard]] Result<Reopened> reopen(store::RunRecord run);
    [[nodiscard]] Result<RunReport> execute(
        std::unique_ptr<Loaded> loaded, store::RunRecord run,
        const std::map<std::string, checklist::StepState>& prior, checklist::RunObserver& observer,
        bool undo_on_failure, int parallel, std::vector<std::string> notes);
    // Renders `parsed` with `vars`, the hosts of its `on` steps and the facts its templates
    // name: this machine's, and for each host's copy that host's (run_hosts.hpp).
    [[nodiscard]] Result<checklist::Checklist> render(const checklist::Checklist& parsed,
                                                      Variables vars) const;
    // Takes every lock the rendered run needs (run_locks.hpp) into loaded.locks.
    [[nodiscard]] Status lock(Loaded& loaded, const store::RunRecord& run);
    checklist::EngineOptions engine_options(const store::RunRecord& run, int parallel) const;
    // Tells m_wait.on_waiting what is waited for, then waits (wait_for_check_off).
    [[nodiscard]] Result<std::optional<std::map<std::string, checklist::StepState>>>
    wait_until_checked_off(const Loaded& loaded, const std::string& run_id,
                           const std::vector<std::string>& waiting);
    std::vector<std::string> undo_order(const checklist::Checklist& checklist,
                                        const std::vector<store::StepRecord>& steps) const;

    const Project& m_project;
    store::Store& m_store;
    os::ProcessRunner& m_runner;
    const os::CancelSource& m_cancel;
    std::vector<std::unique_ptr<Loaded>> m_loaded;  // keeps RunReport::checklist valid
    FleetService* m_fleet = nullptr;
    WaitOptions m_wait;
};

// The name runs and check-offs record as their user: $USER, else the account's name.
std::string current_user();

// Params are stored as given (a resumed run renders with them) and shown redacted.
void redact_params(store::RunRecord& run, const Redactor& redactor);

// Returns a new run id: "YYYYMMDD-HHMMSS-xxxx" in UTC (sortable, readable, unique enough).
std::string make_run_id(int64_t now_ms);
int64_t now_ms();

}  // namespace shipshape::app
