// The engine's insides, shared by engine.cpp (steps, scheduling) and engine_hosts.cpp (steps on
// hosts, undo). Not part of the checklist module's interface: include it from those two only.
#pragma once

#include <functional>
#include <mutex>

#include "checklist/engine.hpp"
#include "core/redact.hpp"

namespace shipshape::checklist::detail {

// What the engine reports for a step whose end the journal could not record (`why`): as far as
// the journal knows the step is still running, and a resume reruns it. So the observer and the
// outcome see it interrupted, with the reason, never as what it was: nothing claims ok that the
// journal did not record.
inline StepResult unrecorded(StepResult r, const Error& why) {
    r.detail = "ended " + std::string(state_name(r.state)) +
               " but the journal did not record it: " + why.message();
    r.state = StepState::interrupted;
    return r;
}

// Redacts process output as a stream (a secret split across two writes is still hidden), splits
// it into lines and hands each to the log and the observer under the engine's lock. A line
// longer than k_max_line is handed on in pieces. flush() ends the stream (after each process).
class LineSink final : public os::OutputSink {
  public:
    static constexpr size_t k_max_line = 65536;

    LineSink(const Step& step, LogWriter& log, RunObserver& observer, const Redactor& redactor,
             std::mutex& lock)
        : m_step(step),
          m_log(log),
          m_observer(observer),
          m_redactor(redactor),
          m_stream(redactor),
          m_lock(lock) {}

    void on_output(std::string_view chunk) override {
        if (m_redactor.empty()) {
            m_partial.append(chunk);
        } else {
            m_stream.feed(chunk, m_partial);
        }
        emit_lines();
    }

    void flush() {
        m_stream.finish(m_partial);
        emit_lines();
        if (!m_partial.empty()) {
            emit(m_partial, false);
            m_partial.clear();
        }
    }

  private:
    void emit_lines() {
        size_t start = 0;
        for (;;) {
            size_t nl = m_partial.find('\n', start);
            if (nl == std::string::npos) {
                break;
            }
            emit(std::string_view(m_partial).substr(start, nl + 1 - start), true);
            start = nl + 1;
        }
        m_partial.erase(0, start);
        if (m_partial.size() > k_max_line) {
            emit(m_partial, false);
            m_partial.clear();
        }
    }

    // `text` is redacted already; `ends_line`: its last byte is the line's '\n'.
    void emit(std::string_view text, bool ends_line) {
        std::lock_guard guard(m_lock);
        m_log.write(text);
        if (!ends_line) {
            m_log.write("\n");
        }
        m_observer.step_output(m_step, ends_line ? text.substr(0, text.size() - 1) : text);
    }

    const Step& m_step;
    LogWriter& m_log;
    RunObserver& m_observer;
    const Redactor& m_redactor;
    StreamRedactor m_stream;
    std::mutex& m_lock;
    std::string m_partial;  // redacted output not yet handed on: the start of a line
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
        // A step with `on`: its hosts' copies that ran, in order of finishing.
        std::vector<std::pair<std::string, StepResult>> hosts = {};
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
    std::chrono::steady_clock::time_point now() const {
        return (m_deps.clock ? *m_deps.clock : system_clock()).monotonic();
    }
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

}  // namespace shipshape::checklist::detail
