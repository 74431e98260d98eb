#include "checklist/engine.hpp"

#include <poll.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "checklist/engine_internal.hpp"
#include "core/redact.hpp"
#include "os/file_system.hpp"

namespace shipshape::checklist {

std::string_view state_name(StepState s) {
    switch (s) {
        case StepState::pending:
            return "pending";
        case StepState::running:
            return "running";
        case StepState::ok:
            return "ok";
        case StepState::skipped:
            return "skipped";
        case StepState::failed:
            return "failed";
        case StepState::waiting:
            return "waiting";
        case StepState::checked_off:
            return "checked-off";
        case StepState::interrupted:
            return "interrupted";
        case StepState::blocked:
            return "blocked";
        case StepState::undone:
            return "undone";
    }
    return "pending";
}

std::optional<StepState> parse_state(std::string_view name) {
    for (auto s : {StepState::pending, StepState::running, StepState::ok, StepState::skipped,
                   StepState::failed, StepState::waiting, StepState::checked_off,
                   StepState::interrupted, StepState::blocked, StepState::undone}) {
        if (state_name(s) == name) {
            return s;
        }
    }
    return std::nullopt;
}

bool is_complete(StepState s) {
    return s == StepState::ok || s == StepState::skipped || s == StepState::checked_off;
}

std::string_view run_status_name(RunStatus s) {
    switch (s) {
        case RunStatus::done:
            return "done";
        case RunStatus::failed:
            return "failed";
        case RunStatus::waiting:
            return "waiting";
        case RunStatus::interrupted:
            return "interrupted";
    }
    return "failed";
}

namespace detail {

std::vector<std::string> Engine::step_env(const Step& step) const {
    std::vector<std::string> env = m_options.base_env;
    env.push_back("SHIPSHAPE_STEP=" + step.id);
    for (const auto& [k, v] : step.env) {
        std::string prefix = k + "=";
        bool replaced = false;
        for (auto& e : env) {
            if (e.compare(0, prefix.size(), prefix) == 0) {
                e = prefix + v;
                replaced = true;
            }
        }
        if (!replaced) {
            env.push_back(prefix + v);
        }
    }
    return env;
}

std::string Engine::step_cwd(const Step& step) const {
    if (step.cwd.empty()) {
        return m_options.default_cwd;
    }
    return os::path_absolute(step.cwd, m_options.default_cwd);
}

bool Engine::wait_cancellable(Millis delay) const {
    pollfd p{m_deps.cancel.fd(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(delay.count())) > 0;
}

Result<os::ProcessOutcome> Engine::run_command(const Step& step, const Command& command,
                                               Phase phase, LogWriter& log, LineSink& sink,
                                               int attempt) {
    static constexpr const char* k_phase_names[] = {"unless", "run", "verify", "undo"};
    {
        std::string header = "==> " + std::string(k_phase_names[static_cast<int>(phase)]);
        if (phase == Phase::run && step.retries > 0) {
            header += " (attempt " + std::to_string(attempt) + " of " +
                      std::to_string(step.retries + 1) + ")";
        }
        header += ": " + m_redactor.apply(command.display()) + "\n";
        std::lock_guard guard(m_lock);
        log.note(header);
    }
    os::ProcessSpec spec;
    spec.argv = command.to_argv();
    spec.timeout = step.timeout;
    spec.kill_grace = m_options.kill_grace;
    Result<os::ProcessOutcome> outcome = fail(Errc::internal, "not run");
    if (!step.host.empty()) {
        // Only what the run adds goes to the host: its own environment stays its own, and
        // paths of this machine (SHIPSHAPE_REPO, SHIPSHAPE_RUN_DIR) mean nothing there.
        std::vector<std::string> env;
        for (const auto& e : step_env(step)) {
            if (e.rfind("SHIPSHAPE_", 0) == 0 && e.rfind("SHIPSHAPE_REPO=", 0) != 0 &&
                e.rfind("SHIPSHAPE_RUN_DIR=", 0) != 0) {
                env.push_back(e);
            }
        }
        for (const auto& [k, v] : step.env) {
            env.push_back(k + "=" + v);
        }
        env.push_back("SHIPSHAPE_HOST=" + step.host);
        spec.env = std::move(env);
        spec.cwd = step.cwd;
        if (!m_deps.hosts) {
            outcome = fail(Errc::unsupported, "no ssh transport for steps that run on hosts");
        } else {
            outcome = m_deps.hosts->run(step.host, spec, sink, &m_deps.cancel);
        }
    } else {
        spec.env = step_env(step);
        spec.cwd = step_cwd(step);
        spec.on_started = [&](pid_t pid) {
            std::lock_guard guard(m_lock);
            m_deps.journal.process_started(step, pid);
        };
        outcome = m_deps.runner.run(spec, sink, &m_deps.cancel);
    }
    sink.flush();
    std::lock_guard guard(m_lock);
    if (!outcome) {
        log.note("==> " + m_redactor.apply(outcome.error().message()) + "\n");
    } else {
        log.note("==> " + os::describe(*outcome, step.timeout) + " after " +
                 format_duration(outcome->elapsed) + "\n");
    }
    return outcome;
}

bool Engine::record_start(const Step& step, Finished& f) {
    if (auto st = m_deps.journal.step_started(step, 1); !st) {
        f.fatal = st.error();
        f.result.state = StepState::failed;
        f.result.detail = "journal: " + st.error().message();
        return false;
    }
    m_deps.observer.step_started(step, 1);
    return true;
}

Engine::Finished Engine::run_step(size_t index) {
    const Step& step = m_c.steps[index];
    return step.on_hosts() ? run_hosts(index) : run_one(step, index);
}

Engine::Finished Engine::run_one(const Step& step, size_t index) {
    Finished f{index, StepResult{}, std::nullopt};
    auto started = now();
    auto elapsed = [&] { return std::chrono::duration_cast<Millis>(now() - started); };
    std::unique_ptr<LogWriter> log;
    {
        std::lock_guard guard(m_lock);
        log = m_deps.logs.open(step);
        if (!record_start(step, f)) {
            return f;
        }
    }
    LineSink sink(step, *log, m_deps.observer, m_redactor, m_lock);
    auto finish = [&](StepState state, int code, const std::string& detail) {
        if (state == StepState::failed || state == StepState::interrupted) {
            std::lock_guard guard(m_lock);
            log->keep();
        }
        f.result.state = state;
        f.result.exit_code = code;
        // Details name commands and directories ("cannot run X: not found"), which may hold a
        // secret; they reach the terminal, JSON events and the journal from here.
        f.result.detail = m_redactor.apply(detail);
        f.result.duration = elapsed();
        return f;
    };
    auto interrupted = [&](const os::ProcessOutcome& o) {
        return o.kind == os::ExitKind::cancelled;
    };

    if (step.unless) {
        auto u = run_command(step, *step.unless, Phase::unless, *log, sink, 1);
        if (!u) {
            return finish(StepState::failed, -1, "unless: " + u.error().message());
        }
        if (interrupted(*u)) {
            return finish(StepState::interrupted, -1, "interrupted");
        }
        if (u->success()) {
            return finish(StepState::skipped, 0, "unless passed");
        }
    }
    const int attempts = step.retries + 1;
    std::string why;
    int code = -1;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
        f.result.attempts = attempt;
        if (attempt > 1) {
            {
                std::lock_guard guard(m_lock);
                m_deps.observer.step_retrying(step, attempt, m_redactor.apply(why));
            }
            if (step.retry_delay.count() > 0 && wait_cancellable(step.retry_delay)) {
                return finish(StepState::interrupted, -1, "interrupted");
            }
            if (m_deps.cancel.cancelled()) {
                return finish(StepState::interrupted, -1, "interrupted");
            }
        }
        auto r = run_command(step, step.run, Phase::run, *log, sink, attempt);
        if (!r) {
            // A command that cannot start will not start on a retry either.
            return finish(StepState::failed, -1, r.error().message());
        }
        if (interrupted(*r)) {
            return finish(StepState::interrupted, -1, "interrupted");
        }
        code = r->kind == os::ExitKind::exited ? r->code : -1;
        if (!r->success()) {
            why = os::describe(*r, step.timeout);
            continue;
        }
        if (!step.verify) {
            return finish(StepState::ok, 0, "");
        }
        auto v = run_command(step, *step.verify, Phase::verify, *log, sink, attempt);
        if (!v) {
            return finish(StepState::failed, -1, "verify: " + v.error().message());
        }
        if (interrupted(*v)) {
            return finish(StepState::interrupted, -1, "interrupted");
        }
        if (v->success()) {
            return finish(StepState::ok, 0, "");
        }
        code = v->kind == os::ExitKind::exited ? v->code : -1;
        why = "verify: " + os::describe(*v, step.timeout);
    }
    if (attempts > 1) {
        why += " (after " + std::to_string(attempts) + " attempts)";
    }
    return finish(StepState::failed, code, why);
}

RunOutcome Engine::run(const std::map<std::string, StepState>& prior) {
    m_prior = &prior;
    const size_t n = m_c.steps.size();
    std::map<std::string_view, size_t> index;
    for (size_t i = 0; i < n; ++i) {
        index.emplace(m_c.steps[i].id, i);
    }
    std::vector<StepState> state(n, StepState::pending);
    std::vector<size_t> missing(n, 0);  // dependencies not yet complete
    std::vector<std::vector<size_t>> dependents(n);
    for (size_t i = 0; i < n; ++i) {
        auto it = prior.find(m_c.steps[i].id);
        if (it != prior.end()) {
            state[i] = it->second;
        }
        for (const auto& need : m_c.steps[i].needs) {
            size_t d = index.at(need);
            dependents[d].push_back(i);
        }
    }
    for (size_t i = 0; i < n; ++i) {
        for (const auto& need : m_c.steps[i].needs) {
            if (!is_complete(state[index.at(need)])) {
                ++missing[i];
            }
        }
    }
    std::deque<size_t> ready;
    for (size_t i = 0; i < n; ++i) {
        if (!is_complete(state[i]) && missing[i] == 0) {
            ready.push_back(i);
        }
    }

    RunOutcome out;
    const int parallel = m_options.parallel > 0 ? m_options.parallel : m_c.parallel;
    std::mutex done_lock;
    std::condition_variable done_cv;
    std::deque<Finished> done;
    std::map<size_t, std::thread> threads;
    bool stopping = false;

    auto complete = [&](size_t i) {
        for (size_t d : dependents[i]) {
            if (--missing[d] == 0 && !is_complete(state[d])) {
                ready.push_back(d);
            }
        }
    };

    for (;;) {
        if (!stopping && m_deps.cancel.cancelled()) {
            stopping = true;
        }
        while (!stopping && !ready.empty() && static_cast<int>(threads.size()) < parallel) {
            size_t i = ready.front();
            ready.pop_front();
            const Step& step = m_c.steps[i];
            if (step.kind == StepKind::manual) {
                if (state[i] == StepState::checked_off) {
                    complete(i);
                    continue;
                }
                std::lock_guard guard(m_lock);
                if (auto st = m_deps.journal.step_waiting(step); !st) {
                    out.fatal = st.error();
                    stopping = true;
                    break;
                }
                state[i] = StepState::waiting;
                out.waiting.push_back(step.id);
                out.results[step.id] = StepResult{StepState::waiting, -1, "", Millis(0), 0};
                m_deps.observer.step_waiting(step);
                continue;
            }
            state[i] = StepState::running;
            threads.emplace(i, std::thread([this, i, &done_lock, &done_cv, &done] {
                                Finished f = run_step(i);
                                std::lock_guard guard(done_lock);
                                done.push_back(std::move(f));
                                done_cv.notify_one();
                            }));
        }
        if (threads.empty()) {
            break;
        }
        Finished f;
        {
            std::unique_lock lk(done_lock);
            // Wake up now and then to notice Ctrl-C promptly even while no step finishes.
            while (done.empty()) {
                done_cv.wait_for(lk, std::chrono::milliseconds(50));
                if (done.empty() && !stopping && m_deps.cancel.cancelled()) {
                    break;
                }
            }
            if (done.empty()) {
                continue;
            }
            f = std::move(done.front());
            done.pop_front();
        }
        threads.at(f.index).join();
        threads.erase(f.index);
        const Step& step = m_c.steps[f.index];
        if (f.fatal) {
            out.fatal = f.fatal;
            stopping = true;
        } else {
            std::lock_guard guard(m_lock);
            if (auto st = m_deps.journal.step_finished(step, f.result); !st) {
                out.fatal = st.error();
                stopping = true;
                f.result = unrecorded(f.result, st.error());
            }
            m_deps.observer.step_finished(step, f.result);
        }
        state[f.index] = f.result.state;
        out.results[step.id] = f.result;
        for (auto& [copy, result] : f.hosts) {
            if (result.state == StepState::failed) {
                out.failed_hosts[step.id].push_back(copy);
            }
            out.host_results[copy] = std::move(result);
        }
        if (f.result.state == StepState::failed) {
            out.failed.push_back(step.id);
            stopping = true;
        } else if (is_complete(f.result.state)) {
            complete(f.index);
        } else {
            stopping = true;  // interrupted
        }
    }

    bool interrupted = m_deps.cancel.cancelled();
    for (size_t i = 0; i < n; ++i) {
        if (state[i] == StepState::pending || state[i] == StepState::running ||
            state[i] == StepState::failed || state[i] == StepState::interrupted) {
            if (out.results.count(m_c.steps[i].id) == 0) {
                out.blocked.push_back(m_c.steps[i].id);
            }
        }
    }
    if (interrupted) {
        out.status = RunStatus::interrupted;
    } else if (!out.failed.empty() || out.fatal) {
        out.status = RunStatus::failed;
    } else if (!out.waiting.empty() || !out.blocked.empty()) {
        out.status = RunStatus::waiting;
    } else {
        out.status = RunStatus::done;
    }
    return out;
}

}  // namespace detail

RunOutcome execute(const Checklist& checklist, const std::map<std::string, StepState>& prior,
                   const EngineDeps& deps, const EngineOptions& options) {
    detail::Engine engine(checklist, deps, options);
    return engine.run(prior);
}

}  // namespace shipshape::checklist
