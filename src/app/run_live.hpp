// Check-offs recorded while a run is live. A manual step waits while the run's process still
// executes other steps; another process may check it off in that time (RunService::check_off).
// Before the live run stops as "waiting", RunService::execute reads the journal again
// (checked_off_since) and, when a step it left waiting has been checked off, runs the engine once
// more from the journal's states, with the steps already recorded as waiting neither journaled
// nor shown again (WaitingJournal, WaitingObserver), and merges the outcomes (merge_outcome).
// Engine calls arrive serialized; none of these types locks.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checklist/engine.hpp"
#include "store/store.hpp"

namespace shipshape::app {

// The journal's states of every step of `run_id` when it shows a check-off of one of
// `waiting` (the steps the last engine pass left waiting); std::nullopt when none was checked
// off, or the journal cannot be read (then the run stops as waiting, which `resume` continues).
std::optional<std::map<std::string, checklist::StepState>> checked_off_since(
    store::RunStore& store, const std::string& run_id, const std::vector<std::string>& waiting);

// `run --wait` (#15): what a run does when only check-offs are left. The run keeps its locks and
// waits for a check-off of one of its waiting steps, recorded by any process (`check-off`, the
// API): a store::ChangeWaiter wakes it when the store changes (PostgreSQL: NOTIFY; SQLite:
// polling every store::k_change_poll), and the journal is read again after every change.
struct WaitOptions {
    bool enabled = false;
    Millis timeout{0};  // 0: no limit
    // Called once per wait with the steps waited for and their roles (to tell the user).
    std::function<void(const std::vector<std::pair<std::string, std::string>>&)> on_waiting;
};

// Waits until one of `waiting` is checked off (returns the journal's states, as
// checked_off_since), or until `cancel` fires or `timeout` passes (std::nullopt). Errc::store
// when the store cannot be read.
[[nodiscard]] Result<std::optional<std::map<std::string, checklist::StepState>>> wait_for_check_off(
    store::RunStore& store, const std::string& run_id, const std::vector<std::string>& waiting,
    Millis timeout, const os::CancelSource& cancel);

// Folds the outcome of a further engine pass into the run's outcome: results and failures add
// up; the later pass decides the status and what still waits or is blocked. Steps that waited
// before and do not any more were checked off.
void merge_outcome(checklist::RunOutcome& into, checklist::RunOutcome next);

// A Journal that does not record again a step whose record already says "waiting": rewriting
// it could overwrite a check-off recorded in the meantime.
class WaitingJournal final : public checklist::Journal {
  public:
    WaitingJournal(checklist::Journal& inner, std::set<std::string> recorded)
        : m_inner(inner), m_recorded(std::move(recorded)) {}
    Status step_started(const checklist::Step& s, int attempt) override {
        return m_inner.step_started(s, attempt);
    }
    Status step_finished(const checklist::Step& s, const checklist::StepResult& r) override {
        return m_inner.step_finished(s, r);
    }
    Status step_waiting(const checklist::Step& s) override {
        return m_recorded.count(s.id) ? Status{} : m_inner.step_waiting(s);
    }
    Status undo_started(const checklist::Step& s) override { return m_inner.undo_started(s); }
    Status undo_finished(const checklist::Step& s, const checklist::StepResult& r) override {
        return m_inner.undo_finished(s, r);
    }
    void process_started(const checklist::Step& s, pid_t pid) override {
        m_inner.process_started(s, pid);
    }

  private:
    checklist::Journal& m_inner;
    std::set<std::string> m_recorded;
};

// A RunObserver that does not announce again a step it has already shown waiting.
class WaitingObserver final : public checklist::RunObserver {
  public:
    WaitingObserver(checklist::RunObserver& inner, std::set<std::string> shown)
        : m_inner(inner), m_shown(std::move(shown)) {}
    void step_started(const checklist::Step& s, int attempt) override {
        m_inner.step_started(s, attempt);
    }
    void step_output(const checklist::Step& s, std::string_view line) override {
        m_inner.step_output(s, line);
    }
    void step_retrying(const checklist::Step& s, int next, const std::string& why) override {
        m_inner.step_retrying(s, next, why);
    }
    void step_finished(const checklist::Step& s, const checklist::StepResult& r) override {
        m_inner.step_finished(s, r);
    }
    void step_waiting(const checklist::Step& s) override {
        if (!m_shown.count(s.id)) {
            m_inner.step_waiting(s);
        }
    }
    void hosts_progress(const checklist::Step& s, size_t done, size_t failed, size_t running,
                        size_t total) override {
        m_inner.hosts_progress(s, done, failed, running, total);
    }

  private:
    checklist::RunObserver& m_inner;
    std::set<std::string> m_shown;
};

}  // namespace shipshape::app
