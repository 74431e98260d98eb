#include "checklist/engine.hpp"

#include <poll.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/assert.hpp"
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

namespace {

// Splits process output into lines, redacts them, and hands each to the log and the observer
// under the engine's lock.
class LineSink final : public os::OutputSink {
  public:
    LineSink(const Step& step, LogWriter& log, RunObserver& observer, const Redactor& redactor,
             std::mutex& lock)
        : m_step(step), m_log(log), m_observer(observer), m_redactor(redactor), m_lock(lock) {}

    void on_output(std::string_view chunk) override {
        m_partial.append(chunk);
        size_t start = 0;
        for (;;) {
            size_t nl = m_partial.find('\n', start);
            if (nl == std::string::npos) {
                break;
            }
            emit(std::string_view(m_partial).substr(start, nl - start));
            start = nl + 1;
        }
        m_partial.erase(0, start);
        if (m_partial.size() > 65536) {
            flush();
        }
    }

    void flush() {
        if (!m_partial.empty()) {
            emit(m_partial);
            m_partial.clear();
        }
    }

  private:
    void emit(std::string_view line) {
        std::string clean = m_redactor.empty() ? std::string(line) : m_redactor.apply(line);
        clean += '\n';
        std::lock_guard guard(m_lock);
        m_log.write(clean);
        clean.pop_back();
        m_observer.step_output(m_step, clean);
    }

    const Step& m_step;
    LogWriter& m_log;
    RunObserver& m_observer;
    const Redactor& m_redactor;
    std::mutex& m_lock;
    std::string m_partial;
};

class Engine {
  public:
    Engine(const Checklist& c, const EngineDeps& deps, const EngineOptions& options)
        : m_c(c), m_deps(deps), m_options(options), m_redactor(options.secrets) {}

    RunOutcome run(const std::map<std::string, StepState>& prior);
    RunOutcome undo(const std::vector<std::string>& order);

  private:
    struct Finished {
        size_t index;
        StepResult result;
        std::optional<Error> fatal;
    };
    enum class Phase { unless, run, verify, undo };

    // Runs one step to its final state (called on a step thread).
    Finished run_step(size_t index);
    // Journals and announces the start of `step` (under m_lock); on a journal failure fills
    // `f` with it and returns false.
    bool record_start(const Step& step, Finished& f);
    // Runs `step` (a step, or one host's copy of it) to its final state.
    Finished run_one(const Step& step, size_t index);
    // Runs a step with `on` on its hosts.
    Finished run_hosts(size_t index);
    // Runs one command of a step; returns its outcome or the error that kept it from starting.
    Result<os::ProcessOutcome> run_command(const Step& step, const Command& command, Phase phase,
                                           LogWriter& log, LineSink& sink, int attempt);
    bool wait_cancellable(Millis delay) const;
    std::vector<std::string> step_env(const Step& step) const;
    std::string step_cwd(const Step& step) const;
    Status journal(const std::function<Status()>& call) {
        std::lock_guard guard(m_lock);
        return call();
    }

    const Checklist& m_c;
    const EngineDeps& m_deps;
    const EngineOptions& m_options;
    const std::map<std::string, StepState>* m_prior = nullptr;
    Redactor m_redactor;
    std::mutex m_lock;  // serializes journal, observer and log calls
};

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
        log.note("==> " + outcome.error().message() + "\n");
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

Engine::Finished Engine::run_hosts(size_t index) {
    const Step& step = m_c.steps[index];
    Finished f{index, StepResult{}, std::nullopt};
    auto started = std::chrono::steady_clock::now();
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
    std::optional<Error> fatal;
    const size_t limit =
        step.serial > 0 ? static_cast<size_t>(step.serial) : std::max<size_t>(total, 1);
    const size_t max_fail = static_cast<size_t>(std::max(step.max_fail, 1));
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::thread> threads;
    auto progress = [&] {
        std::lock_guard guard(m_lock);
        m_deps.observer.hosts_progress(step, done, failed, running, total);
    };
    std::unique_lock lk(mu);
    for (;;) {
        bool stop = failed >= max_fail || fatal || m_deps.cancel.cancelled();
        bool launched = false;
        while (!stop && running < limit && next < total) {
            size_t i = next++;
            if (is_complete(states[i])) {
                continue;
            }
            ++running;
            launched = true;
            threads.emplace_back([&, i] {
                Finished hf = run_one(hosts[i], index);
                if (!hf.fatal) {
                    std::lock_guard guard(m_lock);
                    if (auto st = m_deps.journal.step_finished(hosts[i], hf.result); !st) {
                        hf.fatal = st.error();
                    }
                    m_deps.observer.step_finished(hosts[i], hf.result);
                }
                std::lock_guard g(mu);
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
                cv.notify_all();
            });
        }
        if (launched) {
            lk.unlock();
            progress();
            lk.lock();
        }
        if (running == 0 && (stop || next >= total)) {
            break;
        }
        cv.wait(lk);
        lk.unlock();
        progress();
        lk.lock();
    }
    lk.unlock();
    for (auto& t : threads) {
        t.join();
    }
    f.fatal = fatal;
    f.result.duration =
        std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
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

Engine::Finished Engine::run_one(const Step& step, size_t index) {
    Finished f{index, StepResult{}, std::nullopt};
    auto started = std::chrono::steady_clock::now();
    auto elapsed = [&] {
        return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
    };
    std::unique_ptr<LogWriter> log;
    {
        std::lock_guard guard(m_lock);
        log = m_deps.logs.open(step);
        if (!record_start(step, f)) {
            return f;
        }
    }
    LineSink sink(step, *log, m_deps.observer, m_redactor, m_lock);
    auto finish = [&](StepState state, int code, std::string detail) {
        if (state == StepState::failed || state == StepState::interrupted) {
            std::lock_guard guard(m_lock);
            log->keep();
        }
        f.result.state = state;
        f.result.exit_code = code;
        f.result.detail = std::move(detail);
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
                m_deps.observer.step_retrying(step, attempt, why);
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
            }
            m_deps.observer.step_finished(step, f.result);
        }
        state[f.index] = f.result.state;
        out.results[step.id] = f.result;
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

RunOutcome Engine::undo(const std::vector<std::string>& order) {
    RunOutcome out;
    for (const auto& id : order) {
        const Step* step = m_c.find_step(id);
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
            result.detail = "undo: " + r.error().message();
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
            }
            m_deps.observer.step_finished(*step, result);
        }
        out.results[id] = result;
        if (result.state == StepState::interrupted) {
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

}  // namespace

RunOutcome execute(const Checklist& checklist, const std::map<std::string, StepState>& prior,
                   const EngineDeps& deps, const EngineOptions& options) {
    Engine engine(checklist, deps, options);
    return engine.run(prior);
}

RunOutcome execute_undo(const Checklist& checklist, const std::vector<std::string>& order,
                        const EngineDeps& deps, const EngineOptions& options) {
    Engine engine(checklist, deps, options);
    return engine.undo(order);
}

}  // namespace shipshape::checklist
