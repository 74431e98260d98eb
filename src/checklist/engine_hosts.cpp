// Steps on hosts (one copy per host, a sliding window of `serial`, `max_fail`) and undo.
#include <algorithm>
#include <array>
#include <condition_variable>
#include <thread>

#include "checklist/engine_internal.hpp"
#include "core/assert.hpp"

namespace shipshape::checklist {

namespace detail {

Engine::Finished Engine::run_hosts(size_t index) {
    const Step& step = m_c.steps[index];
    Finished f{index, StepResult{}, std::nullopt};
    auto started = now();
    {
        std::lock_guard guard(m_lock);
        if (!record_start(step, f)) {
            return f;
        }
    }
    const auto& hosts = step.per_host;
    const size_t total = hosts.size();
    std::vector<StepState> states(total, StepState::pending);
    size_t done = 0;
    for (size_t i = 0; i < total; ++i) {
        if (auto it = m_prior->find(hosts[i].id); it != m_prior->end() && is_complete(it->second)) {
            states[i] = it->second;  // finished before a crash: never run twice
            ++done;
        }
    }
    size_t failed = 0;
    size_t running = 0;
    size_t next = 0;
    std::vector<std::string> failures;
    std::vector<std::pair<std::string, StepResult>> finished;
    std::optional<Error> fatal;
    const size_t limit =
        step.serial > 0 ? static_cast<size_t>(step.serial) : std::max<size_t>(total, 1);
    const size_t max_fail = static_cast<size_t>(std::max(step.max_fail, 1));
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::thread> threads;
    // The tally is taken under `mu` (the host threads change it there) and reported once per
    // round, after the round's launches, and only when it changed: a host that finishes and the
    // one that takes its place in the window make one line, not two.
    std::array<size_t, 3> reported{};
    bool any_reported = false;
    auto progress = [&](std::unique_lock<std::mutex>& held) {
        std::array<size_t, 3> tally{done, failed, running};
        if (any_reported && tally == reported) {
            return;
        }
        reported = tally;
        any_reported = true;
        held.unlock();
        {
            std::lock_guard guard(m_lock);
            m_deps.observer.hosts_progress(step, tally[0], tally[1], tally[2], total);
        }
        held.lock();
    };
    size_t changes = 0;  // host threads count their finishes here, under `mu`
    std::unique_lock lk(mu);
    for (;;) {
        // What this round has seen: a host finishing after this point, even while `mu` is let go
        // to report progress, ends the wait below at once instead of being missed.
        const size_t seen = changes;
        bool stop = failed >= max_fail || fatal || m_deps.cancel.cancelled();
        while (!stop && running < limit && next < total) {
            size_t i = next++;
            if (is_complete(states[i])) {
                continue;
            }
            ++running;
            threads.emplace_back([&, i] {
                Finished hf = run_one(hosts[i], index);
                if (!hf.fatal) {
                    std::lock_guard guard(m_lock);
                    if (auto st = m_deps.journal.step_finished(hosts[i], hf.result); !st) {
                        hf.fatal = st.error();
                        hf.result = unrecorded(hf.result, st.error());
                    }
                    m_deps.observer.step_finished(hosts[i], hf.result);
                }
                std::lock_guard g(mu);
                finished.emplace_back(hosts[i].id, hf.result);
                states[i] = hf.result.state;
                --running;
                if (is_complete(hf.result.state)) {
                    ++done;
                } else {
                    ++failed;
                    failures.push_back(hosts[i].host + " " +
                                       (hf.result.detail.empty() ? "failed" : hf.result.detail));
                }
                if (hf.fatal && !fatal) {
                    fatal = hf.fatal;
                }
                ++changes;
                cv.notify_all();
            });
        }
        progress(lk);
        if (running == 0 && (stop || next >= total)) {
            break;
        }
        cv.wait(lk, [&] { return changes != seen; });
    }
    progress(lk);  // the last host may have finished while the round before was reported
    lk.unlock();
    for (auto& t : threads) {
        t.join();
    }
    f.fatal = fatal;
    f.hosts = std::move(finished);
    f.result.duration = std::chrono::duration_cast<Millis>(now() - started);
    f.result.attempts = 1;
    size_t not_started = total - done - failed;
    if (done == total) {
        f.result.state = StepState::ok;
        f.result.exit_code = 0;
        f.result.detail = std::to_string(total) + (total == 1 ? " host" : " hosts");
    } else {
        bool cancelled = m_deps.cancel.cancelled();
        f.result.state = cancelled && failed == 0 ? StepState::interrupted : StepState::failed;
        std::string detail;
        for (const auto& x : failures) {
            detail += (detail.empty() ? "" : "; ") + x;
        }
        if (not_started) {
            detail +=
                (detail.empty() ? "" : "; ") + std::to_string(not_started) +
                (not_started == 1 ? " host" : " hosts") + " not started" +
                (failed >= max_fail ? " (max_fail " + std::to_string(max_fail) + " reached)" : "");
        }
        f.result.detail = detail;
    }
    return f;
}

RunOutcome Engine::undo(const std::vector<std::string>& order) {
    RunOutcome out;
    for (const auto& id : order) {
        const Step* step = m_c.find_step_or_copy(id);
        SHIPSHAPE_ASSERT(step != nullptr && step->undo.has_value());
        if (m_deps.cancel.cancelled()) {
            out.status = RunStatus::interrupted;
            return out;
        }
        std::unique_ptr<LogWriter> log;
        {
            std::lock_guard guard(m_lock);
            log = m_deps.logs.open(*step);
            if (auto st = m_deps.journal.undo_started(*step); !st) {
                out.fatal = st.error();
                out.status = RunStatus::failed;
                return out;
            }
            m_deps.observer.step_started(*step, 1);
        }
        LineSink sink(*step, *log, m_deps.observer, m_redactor, m_lock);
        auto r = run_command(*step, *step->undo, Phase::undo, *log, sink, 1);
        StepResult result;
        result.attempts = 1;
        if (!r || r->kind != os::ExitKind::exited || r->code != 0) {
            std::lock_guard guard(m_lock);
            log->keep();
        }
        if (!r) {
            result.state = StepState::failed;
            result.detail = "undo: " + m_redactor.apply(r.error().message());
        } else {
            result.duration = r->elapsed;
            result.exit_code = r->kind == os::ExitKind::exited ? r->code : -1;
            if (r->kind == os::ExitKind::cancelled) {
                result.state = StepState::interrupted;
                result.detail = "interrupted";
            } else if (r->success()) {
                result.state = StepState::undone;
            } else {
                result.state = StepState::failed;
                result.detail = "undo: " + os::describe(*r, step->timeout);
            }
        }
        {
            std::lock_guard guard(m_lock);
            if (auto st = m_deps.journal.undo_finished(*step, result); !st) {
                out.fatal = st.error();
                result = unrecorded(result, st.error());
            }
            m_deps.observer.step_finished(*step, result);
        }
        out.results[id] = result;
        if (result.state == StepState::interrupted && !out.fatal) {
            out.status = RunStatus::interrupted;
            return out;
        }
        if (result.state != StepState::undone || out.fatal) {
            out.failed.push_back(id);
            out.status = RunStatus::failed;
            return out;
        }
    }
    out.status = RunStatus::done;
    return out;
}

}  // namespace detail

RunOutcome execute_undo(const Checklist& checklist, const std::vector<std::string>& order,
                        const EngineDeps& deps, const EngineOptions& options) {
    detail::Engine engine(checklist, deps, options);
    return engine.undo(order);
}

}  // namespace shipshape::checklist
