#include "app/run_live.hpp"

#include <algorithm>
#include <chrono>

namespace shipshape::app {

using checklist::StepState;

std::optional<std::map<std::string, StepState>> checked_off_since(
    store::RunStore& store, const std::string& run_id, const std::vector<std::string>& waiting) {
    auto steps = store.get_steps(run_id);
    if (!steps) {
        return std::nullopt;
    }
    std::map<std::string, StepState> states;
    bool any = false;
    for (const auto& s : *steps) {
        auto state = checklist::parse_state(s.state).value_or(StepState::pending);
        states[s.step_id] = state;
        if (state == StepState::checked_off &&
            std::find(waiting.begin(), waiting.end(), s.step_id) != waiting.end()) {
            any = true;
        }
    }
    if (!any) {
        return std::nullopt;
    }
    return states;
}

Result<std::optional<std::map<std::string, StepState>>> wait_for_check_off(
    store::RunStore& store, const std::string& run_id, const std::vector<std::string>& waiting,
    Millis timeout, const os::CancelSource& cancel) {
    auto waiter = store.open_change_waiter();
    if (!waiter) {
        return fail(waiter.error());
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // The cursor is read before the journal: a check-off recorded after the read moves it.
    const store::ChangeCursor unknown{-1, -1};
    auto known = (*waiter)->wait(unknown, Millis(0));
    for (;;) {
        if (!known) {
            return fail(known.error());
        }
        if (auto states = checked_off_since(store, run_id, waiting)) {
            return states;
        }
        auto slice = std::chrono::milliseconds(std::chrono::hours(1));
        if (timeout.count() > 0) {
            slice = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
        }
        if (cancel.cancelled() || slice.count() <= 0) {
            return std::optional<std::map<std::string, StepState>>();
        }
        known = (*waiter)->wait(*known, slice, cancel.fd());
    }
}

void merge_outcome(checklist::RunOutcome& into, checklist::RunOutcome next) {
    for (const auto& id : into.waiting) {
        if (std::find(next.waiting.begin(), next.waiting.end(), id) == next.waiting.end()) {
            into.results[id] =
                checklist::StepResult{StepState::checked_off, 0, "checked off", Millis(0), 0};
        }
    }
    for (auto& [id, r] : next.results) {
        into.results[id] = std::move(r);
    }
    for (auto& [id, r] : next.host_results) {
        into.host_results[id] = std::move(r);
    }
    for (auto& [id, copies] : next.failed_hosts) {
        auto& all = into.failed_hosts[id];
        all.insert(all.end(), copies.begin(), copies.end());
    }
    into.failed.insert(into.failed.end(), next.failed.begin(), next.failed.end());
    into.waiting = std::move(next.waiting);
    into.blocked = std::move(next.blocked);
    into.status = next.status;
    if (next.fatal) {
        into.fatal = std::move(next.fatal);
    }
}

}  // namespace shipshape::app
