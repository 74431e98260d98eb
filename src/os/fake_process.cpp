#include "os/fake_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "core/assert.hpp"
#include "os/errno_error.hpp"

namespace shipshape::os {

namespace {

std::string joined(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) {
        s += (s.empty() ? "" : " ") + a;
    }
    return s;
}

void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

// Writes all of `text` into a fresh pipe; returns {read end, write end}.
Result<std::pair<int, int>> filled_pipe(const std::string& text) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return fail(errno_error("creating a pipe", errno));
    }
    // Scripted output is small; a pipe holds 64 KiB.
    SHIPSHAPE_ASSERT(text.size() <= 65536);
    if (!text.empty() && ::write(fds[1], text.data(), text.size()) < 0) {
        int e = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        return fail(errno_error("filling a pipe", e));
    }
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    return std::pair{fds[0], fds[1]};
}

}  // namespace

class FakeChild final : public Child {
  public:
    FakeChild(FakeProcessRunner& runner, size_t index, FakeScript script)
        : m_runner(runner), m_index(index), m_script(std::move(script)) {}
    ~FakeChild() override {
        close_stdin();
        for (int* fd : {&m_out, &m_out_w, &m_err, &m_err_w}) {
            close_fd(*fd);
        }
    }
    FakeChild(const FakeChild&) = delete;
    FakeChild& operator=(const FakeChild&) = delete;

    Status open(const ProcessSpec& spec) {
        std::string out = spec.output == Output::pipe ? m_script.out : "";
        if (spec.errors == Stderr::merged) {
            out += m_script.err;
        }
        if (spec.output == Output::pipe || spec.errors == Stderr::merged) {
            auto p = filled_pipe(out);
            if (!p) {
                return fail(p.error());
            }
            std::tie(m_out, m_out_w) = *p;
        }
        if (spec.errors == Stderr::separate) {
            auto p = filled_pipe(m_script.err);
            if (!p) {
                return fail(p.error());
            }
            std::tie(m_err, m_err_w) = *p;
        }
        if (spec.input == Input::pipe) {
            int fds[2];
            if (::pipe2(fds, O_CLOEXEC) != 0) {
                return fail(errno_error("creating a pipe", errno));
            }
            m_in_r = fds[0];
            m_in = fds[1];
            ::fcntl(m_in_r, F_SETFL, O_NONBLOCK);
            ::fcntl(m_in, F_SETFL, O_NONBLOCK);
        }
        if (!m_script.hangs) {
            end_output();
        }
        return {};
    }

    pid_t pid() const override { return 0; }
    int stdin_fd() const override { return m_in; }
    void close_stdin() override {
        take_input();
        close_fd(m_in);
        close_fd(m_in_r);
    }
    int stdout_fd() const override { return m_out; }
    int stderr_fd() const override { return m_err; }

    std::optional<ProcessOutcome> poll() override {
        take_input();
        if (m_outcome) {
            return m_outcome;
        }
        if (m_script.hangs) {
            return std::nullopt;
        }
        m_outcome = ProcessOutcome{ExitKind::exited, m_script.exit_code, {}};
        return m_outcome;
    }

    ProcessOutcome wait(Millis timeout, const CancelSource* cancel) override {
        if (auto o = poll()) {
            return *o;
        }
        if (timeout.count() == 0 && !cancel) {
            SHIPSHAPE_ASSERT(false && "a hung fake child waited for without timeout or cancel");
        }
        if (timeout.count() == 0) {
            pollfd p{cancel->fd(), POLLIN, 0};
            while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
            }
        }
        ExitKind kind = cancel && cancel->cancelled() ? ExitKind::cancelled : ExitKind::timed_out;
        end_output();
        m_outcome = ProcessOutcome{kind, -1, timeout};
        return *m_outcome;
    }

    void signal(int sig) override {
        if (!m_outcome) {
            end_output();
            m_outcome = ProcessOutcome{ExitKind::signaled, sig, {}};
        }
    }

  private:
    void end_output() {
        close_fd(m_out_w);
        close_fd(m_err_w);
    }
    void take_input() {
        if (m_in_r < 0) {
            return;
        }
        char buf[65536];
        ssize_t n = 0;
        while ((n = ::read(m_in_r, buf, sizeof buf)) > 0) {
            m_runner.record_input(m_index, std::string_view(buf, static_cast<size_t>(n)));
        }
    }

    FakeProcessRunner& m_runner;
    size_t m_index;
    FakeScript m_script;
    int m_in = -1;
    int m_in_r = -1;
    int m_out = -1;
    int m_out_w = -1;
    int m_err = -1;
    int m_err_w = -1;
    std::optional<ProcessOutcome> m_outcome;
};

void FakeProcessRunner::add(FakeScript script) {
    std::lock_guard g(m_lock);
    m_scripts.push_back(std::move(script));
}

std::vector<ProcessSpec> FakeProcessRunner::specs() const {
    std::lock_guard g(m_lock);
    return m_specs;
}

std::vector<std::string> FakeProcessRunner::inputs() const {
    std::lock_guard g(m_lock);
    return m_inputs;
}

void FakeProcessRunner::record_input(size_t index, std::string_view data) {
    std::lock_guard g(m_lock);
    m_inputs.at(index).append(data);
}

Result<FakeScript> FakeProcessRunner::match(const ProcessSpec& spec, size_t& index) {
    std::lock_guard g(m_lock);
    index = m_specs.size();
    m_specs.push_back(spec);
    m_inputs.emplace_back();
    std::string line = joined(spec.argv);
    for (auto& s : m_scripts) {
        if (s.times != 0 && line.find(s.pattern) != std::string::npos) {
            if (s.times > 0) {
                --s.times;
            }
            if (s.start_error) {
                return fail(*s.start_error);
            }
            return s;
        }
    }
    return fail(Errc::not_found, "no fake script for '" + line + "'");
}

Result<ProcessOutcome> FakeProcessRunner::run(const ProcessSpec& spec, OutputSink& sink,
                                              const CancelSource* cancel) {
    size_t index = 0;
    auto script = match(spec, index);
    if (!script) {
        return fail(script.error());
    }
    if (spec.output == Output::pipe && !script->out.empty()) {
        sink.on_output(script->out);
    }
    if (spec.errors == Stderr::merged && !script->err.empty()) {
        sink.on_output(script->err);
    } else if (spec.errors == Stderr::separate && !script->err.empty()) {
        sink.on_error_output(script->err);
    }
    if (!script->hangs) {
        return ProcessOutcome{ExitKind::exited, script->exit_code, {}};
    }
    if (spec.timeout.count() == 0 && cancel) {
        pollfd p{cancel->fd(), POLLIN, 0};
        while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
    }
    SHIPSHAPE_ASSERT((spec.timeout.count() > 0 || cancel) &&
                     "a hung fake ran without timeout or cancel");
    if (cancel && cancel->cancelled()) {
        return ProcessOutcome{ExitKind::cancelled, -1, {}};
    }
    return ProcessOutcome{ExitKind::timed_out, -1, spec.timeout};
}

Result<std::unique_ptr<Child>> FakeProcessRunner::start(const ProcessSpec& spec) {
    size_t index = 0;
    auto script = match(spec, index);
    if (!script) {
        return fail(script.error());
    }
    auto child = std::make_unique<FakeChild>(*this, index, std::move(*script));
    if (auto st = child->open(spec); !st) {
        return fail(st.error());
    }
    return std::unique_ptr<Child>(std::move(child));
}

}  // namespace shipshape::os
