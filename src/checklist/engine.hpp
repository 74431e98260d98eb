// The checklist engine: executes a rendered checklist as a DAG. Independent steps run at once,
// up to the checklist's `parallel`, each on its own thread driving one process at a time
// (unless, run with retries, verify). The engine owns no storage and prints nothing: durable
// progress goes to a Journal, live progress to a RunObserver, step output to StepLogs.
//
// Contracts:
// - Journal::step_started returns before the step's first process starts, and
//   step_finished is called only after its last process has exited. A failing journal call
//   stops the run (nothing new starts) and is reported in RunOutcome::fatal.
// - Journal, observer and log calls are serialized by the engine: implementations need no
//   locking of their own.
// - After a failure no new step starts; running steps finish. After cancellation (Ctrl-C)
//   running steps' process groups are stopped and recorded as interrupted.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checklist/model.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "os/process.hpp"

namespace shipshape::checklist {

enum class StepState {
    pending,  // not started
    running,  // started, not finished (after a crash: to be rerun)
    ok,
    skipped,  // `unless` passed
    failed,
    waiting,      // manual step without a check-off
    checked_off,  // manual step confirmed
    interrupted,  // stopped by Ctrl-C
    blocked,      // not run because a dependency did not complete (reported, never journaled)
    undone,       // its undo ran
};

std::string_view state_name(StepState s);
std::optional<StepState> parse_state(std::string_view name);
// ok, skipped and checked_off let dependents go ahead.
bool is_complete(StepState s);

struct StepResult {
    StepState state = StepState::pending;
    int exit_code = -1;  // of the last process, -1 if none or killed
    std::string detail;  // "exit 3 (verify)", "timed out after 2m", "unless passed"
    Millis duration{0};
    int attempts = 0;
};

class Journal {
  public:
    virtual ~Journal() = default;
    [[nodiscard]] virtual Status step_started(const Step& step, int attempt) = 0;
    [[nodiscard]] virtual Status step_finished(const Step& step, const StepResult& result) = 0;
    [[nodiscard]] virtual Status step_waiting(const Step& step) = 0;
    [[nodiscard]] virtual Status undo_started(const Step& step) = 0;
    [[nodiscard]] virtual Status undo_finished(const Step& step, const StepResult& result) = 0;
    // Best effort: where a step's process runs, so a resumed run can stop leftovers.
    virtual void process_started(const Step& step, pid_t pid) = 0;
};

class RunObserver {
  public:
    virtual ~RunObserver() = default;
    virtual void step_started(const Step&, int /*attempt*/) {}
    virtual void step_output(const Step&, std::string_view /*line*/) {}
    virtual void step_retrying(const Step&, int /*next_attempt*/, const std::string& /*why*/) {}
    virtual void step_finished(const Step&, const StepResult&) {}
    virtual void step_waiting(const Step&) {}
    // A step that runs on hosts: how far it got (hosts skipped on resume count as done).
    virtual void hosts_progress(const Step&, size_t /*done*/, size_t /*failed*/, size_t /*running*/,
                                size_t /*total*/) {}
};

// Runs the commands of steps with `on` on their hosts (Step::host): over ssh for remote hosts,
// here for this machine. spec.env holds only what the step adds to the host's environment.
class HostRunner {
  public:
    virtual ~HostRunner() = default;
    [[nodiscard]] virtual Result<os::ProcessOutcome> run(const std::string& host,
                                                         const os::ProcessSpec& spec,
                                                         os::OutputSink& sink,
                                                         const os::CancelSource* cancel) = 0;
};

// A step's log. Output goes to write(); the engine's own lines (which command runs, how it
// ended) go to note(). An implementation may hold notes back until the step writes output or
// keep() is called, so that a silent, successful step leaves no log file behind.
class LogWriter {
  public:
    virtual ~LogWriter() = default;
    virtual void write(std::string_view text) = 0;
    virtual void note(std::string_view text) { write(text); }
    // The log must exist even without output (the step failed).
    virtual void keep() {}
};

class StepLogs {
  public:
    virtual ~StepLogs() = default;
    virtual std::unique_ptr<LogWriter> open(const Step& step) = 0;
};

struct EngineOptions {
    std::vector<std::string> base_env;  // "K=V" for every step; step env overrides
    std::string default_cwd;            // for steps without `cwd`, and relative `cwd`s
    std::vector<std::string> secrets;   // values replaced by *** in logs and output
    int parallel = 0;                   // 0: the checklist's own `parallel`
    Millis kill_grace{2000};
};

enum class RunStatus { done, failed, waiting, interrupted };
std::string_view run_status_name(RunStatus s);

struct RunOutcome {
    RunStatus status = RunStatus::done;
    std::map<std::string, StepResult> results;  // every step that reached a final state now
    std::vector<std::string> failed;            // in order of finishing
    // Steps with `on`: the result of each host's copy ("STEP@HOST") that ran now, and per step
    // the copies that failed, in order of finishing.
    std::map<std::string, StepResult> host_results;
    std::map<std::string, std::vector<std::string>> failed_hosts;
    std::vector<std::string> waiting;  // manual steps without check-off
    std::vector<std::string> blocked;  // not run: a dependency did not complete
    std::optional<Error> fatal;        // the journal failed
};

struct EngineDeps {
    Journal& journal;
    RunObserver& observer;
    StepLogs& logs;
    os::ProcessRunner& runner;
    const os::CancelSource& cancel;
    HostRunner* hosts = nullptr;   // needed by steps with `on`
    const Clock* clock = nullptr;  // for durations; system_clock() when null
};

// Runs every step of `checklist` (already rendered) whose `prior` state is not complete. A step
// with `on` runs its per-host copies ("STEP@HOST", journaled like steps) at most `serial` at a
// time, skipping hosts whose prior state is complete, and starts no further host once
// `max_fail` hosts failed; it is ok when every host is.
RunOutcome execute(const Checklist& checklist, const std::map<std::string, StepState>& prior,
                   const EngineDeps& deps, const EngineOptions& options);

// Runs the `undo` command of each step in `order` (already reversed: last completed first),
// one at a time; stops at the first failure. An entry may name one host's copy of a step with
// `on` ("STEP@HOST"): its undo runs on that host through deps.hosts.
// Journal::undo_started/undo_finished record it, with StepState::undone on success or failed on
// failure.
RunOutcome execute_undo(const Checklist& checklist, const std::vector<std::string>& order,
                        const EngineDeps& deps, const EngineOptions& options);

}  // namespace shipshape::checklist
