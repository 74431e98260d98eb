#include "os/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/assert.hpp"
#include "core/clock.hpp"
#include "os/errno_error.hpp"

extern char** environ;

namespace shipshape::os {

namespace {

using Steady = std::chrono::steady_clock;

Steady::time_point now() {
    return system_clock().monotonic();
}

class Fd {
  public:
    explicit Fd(int fd = -1) : m_fd(fd) {}
    Fd(Fd&& o) noexcept : m_fd(o.m_fd) { o.m_fd = -1; }
    Fd& operator=(Fd&& o) noexcept {
        reset();
        m_fd = o.m_fd;
        o.m_fd = -1;
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return m_fd; }
    void reset() {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        m_fd = -1;
    }

  private:
    int m_fd;
};

std::string lookup_env(const std::optional<std::vector<std::string>>& env, std::string_view key) {
    if (env) {
        for (const auto& kv : *env) {
            if (kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 &&
                kv[key.size()] == '=') {
                return kv.substr(key.size() + 1);
            }
        }
        return {};
    }
    const char* v = std::getenv(std::string(key).c_str());
    return v ? v : "";
}

// Resolves argv[0] the way execvp would, but using the PATH the child will see.
Result<std::string> resolve_program(const ProcessSpec& spec) {
    const std::string& prog = spec.argv.front();
    if (prog.find('/') != std::string::npos) {
        return prog;
    }
    std::string path = lookup_env(spec.env, "PATH");
    if (path.empty()) {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find(':', start);
        if (end == std::string::npos) {
            end = path.size();
        }
        std::string dir = path.substr(start, end - start);
        if (dir.empty()) {
            dir = ".";
        }
        std::string candidate = dir + "/" + prog;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        start = end + 1;
    }
    return fail(Errc::not_found, "command not found: '" + prog + "' (searched PATH=" + path + ")");
}

int pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int poll_timeout_ms(Steady::time_point deadline) {
    if (deadline == Steady::time_point::max()) {
        return -1;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count()) + 1;
}

}  // namespace

namespace {

// Writes as much of `data` as the pipe takes now. A reader that is gone is EPIPE, not a
// SIGPIPE for the whole program: the signal is blocked on this thread and swallowed.
ssize_t write_no_sigpipe(int fd, std::string_view data) {
    sigset_t pipe_only;
    sigset_t old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t n = ::write(fd, data.data(), data.size());
    int err = errno;
    if (n < 0 && err == EPIPE) {
        timespec zero{0, 0};
        while (::sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = err;
    return n;
}

struct Spawned {
    pid_t pid = -1;
    Fd in;   // our end of its stdin pipe
    Fd out;  // our end of its stdout pipe (stderr too when merged)
    Fd err;  // our end of its stderr pipe
    Steady::time_point started;
};

Result<Fd> make_pipe(Fd& child_end, bool child_reads) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return fail(errno_error("creating a pipe", errno));
    }
    child_end = Fd(child_reads ? fds[0] : fds[1]);
    return Fd(child_reads ? fds[1] : fds[0]);
}

// Starts spec.argv in its own process group with the streams the spec asks for.
Result<Spawned> spawn(const ProcessSpec& spec) {
    if (spec.argv.empty()) {
        return fail(Errc::invalid_argument, "empty command");
    }
    auto program = resolve_program(spec);
    if (!program) {
        return fail(program.error());
    }
    Spawned s;
    Fd child_in;
    Fd child_out;
    Fd child_err;
    if (spec.input == Input::text || spec.input == Input::pipe) {
        auto p = make_pipe(child_in, true);
        if (!p) {
            return fail(p.error());
        }
        s.in = std::move(*p);
    }
    if (spec.output == Output::pipe || spec.errors == Stderr::merged) {
        auto p = make_pipe(child_out, false);
        if (!p) {
            return fail(p.error());
        }
        s.out = std::move(*p);
    }
    if (spec.errors == Stderr::separate) {
        auto p = make_pipe(child_err, false);
        if (!p) {
            return fail(p.error());
        }
        s.err = std::move(*p);
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (spec.input == Input::null) {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    } else if (spec.input == Input::fd) {
        posix_spawn_file_actions_adddup2(&actions, spec.input_fd, 0);
    } else {
        posix_spawn_file_actions_adddup2(&actions, child_in.get(), 0);
    }
    if (spec.output == Output::pipe) {
        posix_spawn_file_actions_adddup2(&actions, child_out.get(), 1);
    } else {
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    }
    if (spec.errors == Stderr::merged) {
        posix_spawn_file_actions_adddup2(&actions, child_out.get(), 2);
    } else if (spec.errors == Stderr::separate) {
        posix_spawn_file_actions_adddup2(&actions, child_err.get(), 2);
    } else {
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    }
    if (!spec.cwd.empty()) {
        posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
    }

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t empty_mask;
    sigemptyset(&empty_mask);
    // Only the signals shipshape itself handles or ignores need resetting in the child.
    sigset_t default_signals;
    sigemptyset(&default_signals);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGCHLD}) {
        sigaddset(&default_signals, sig);
    }
    posix_spawnattr_setsigmask(&attr, &empty_mask);
    posix_spawnattr_setsigdefault(&attr, &default_signals);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);

    std::vector<char*> argv;
    argv.reserve(spec.argv.size() + 1);
    for (const auto& a : spec.argv) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    char** env_ptr = environ;
    if (spec.env) {
        envp.reserve(spec.env->size() + 1);
        for (const auto& e : *spec.env) {
            envp.push_back(const_cast<char*>(e.c_str()));
        }
        envp.push_back(nullptr);
        env_ptr = envp.data();
    }

    s.started = now();
    int rc = ::posix_spawn(&s.pid, program->c_str(), &actions, &attr, argv.data(), env_ptr);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        std::string what = "starting '" + spec.argv.front() + "'";
        if (!spec.cwd.empty() && rc == ENOENT && ::access(spec.cwd.c_str(), F_OK) != 0) {
            what += " in '" + spec.cwd + "'";
        }
        return fail(errno_error(what, rc));
    }
    for (const Fd* fd : {&s.in, &s.out, &s.err}) {
        if (fd->get() >= 0) {
            ::fcntl(fd->get(), F_SETFL, O_NONBLOCK);
        }
    }
    return s;
}

ProcessOutcome outcome_of(int status) {
    ProcessOutcome o;
    if (WIFEXITED(status)) {
        o.kind = ExitKind::exited;
        o.code = WEXITSTATUS(status);
    } else {
        o.kind = ExitKind::signaled;
        o.code = WTERMSIG(status);
    }
    return o;
}

class LinuxChild final : public Child {
  public:
    explicit LinuxChild(Spawned s) : m_s(std::move(s)), m_pidfd(pidfd_open(m_s.pid)) {}
    ~LinuxChild() override {
        if (!m_reaped) {
            ::kill(-m_s.pid, SIGKILL);
            int status = 0;
            while (::waitpid(m_s.pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }
    LinuxChild(const LinuxChild&) = delete;
    LinuxChild& operator=(const LinuxChild&) = delete;

    pid_t pid() const override { return m_s.pid; }
    int stdin_fd() const override { return m_s.in.get(); }
    void close_stdin() override { m_s.in.reset(); }
    int stdout_fd() const override { return m_s.out.get(); }
    int stderr_fd() const override { return m_s.err.get(); }

    std::optional<ProcessOutcome> poll() override {
        if (m_reaped) {
            return m_outcome;
        }
        int status = 0;
        pid_t w = ::waitpid(m_s.pid, &status, WNOHANG);
        if (w != m_s.pid) {
            return std::nullopt;
        }
        return finish(outcome_of(status));
    }

    ProcessOutcome wait(Millis timeout, const CancelSource* cancel) override {
        Steady::time_point deadline =
            timeout.count() > 0 ? now() + timeout : Steady::time_point::max();
        for (;;) {
            if (auto o = poll()) {
                return *o;
            }
            std::optional<ExitKind> stop;
            if (cancel && cancel->cancelled()) {
                stop = ExitKind::cancelled;
            } else if (now() >= deadline) {
                stop = ExitKind::timed_out;
            }
            if (stop) {
                ::kill(-m_s.pid, SIGKILL);
                ::kill(m_s.pid, SIGKILL);
                int status = 0;
                while (::waitpid(m_s.pid, &status, 0) < 0 && errno == EINTR) {
                }
                return finish(ProcessOutcome{*stop, -1, {}});
            }
            std::array<pollfd, 2> fds{};
            nfds_t n = 0;
            if (m_pidfd.get() >= 0) {
                fds[n++] = pollfd{m_pidfd.get(), POLLIN, 0};
            }
            if (cancel) {
                fds[n++] = pollfd{cancel->fd(), POLLIN, 0};
            }
            int ms = poll_timeout_ms(deadline);
            if (m_pidfd.get() < 0 && (ms < 0 || ms > 5)) {
                ms = 5;  // no pidfd: poll waitpid
            }
            ::poll(fds.data(), n, ms);
        }
    }

    void signal(int sig) override {
        if (!m_reaped) {
            ::kill(-m_s.pid, sig);
        }
    }

  private:
    ProcessOutcome finish(ProcessOutcome o) {
        o.elapsed = std::chrono::duration_cast<Millis>(now() - m_s.started);
        m_reaped = true;
        m_outcome = o;
        return o;
    }

    Spawned m_s;
    Fd m_pidfd;
    bool m_reaped = false;
    ProcessOutcome m_outcome;
};

class LinuxProcessRunner final : public ProcessRunner {
  public:
    Result<ProcessOutcome> run(const ProcessSpec& spec, OutputSink& sink,
                               const CancelSource* cancel) override;
    Result<std::unique_ptr<Child>> start(const ProcessSpec& spec) override {
        if (spec.input == Input::text) {
            return fail(Errc::invalid_argument, "start(): give stdin text through Input::pipe");
        }
        auto s = spawn(spec);
        if (!s) {
            return fail(s.error());
        }
        return std::unique_ptr<Child>(std::make_unique<LinuxChild>(std::move(*s)));
    }
};

Result<ProcessOutcome> LinuxProcessRunner::run(const ProcessSpec& spec, OutputSink& sink,
                                               const CancelSource* cancel) {
    if (spec.input == Input::pipe) {
        return fail(Errc::invalid_argument, "run(): Input::pipe needs start()");
    }
    auto spawned = spawn(spec);
    if (!spawned) {
        return fail(spawned.error());
    }
    Spawned& s = *spawned;
    const pid_t pid = s.pid;
    if (spec.on_started) {
        spec.on_started(pid);
    }
    Fd pidfd(pidfd_open(pid));
    // time_point::max() means "no deadline".
    Steady::time_point deadline = Steady::time_point::max();
    if (spec.timeout.count() > 0) {
        deadline = s.started + spec.timeout;
    }
    std::optional<ExitKind> stop_reason;
    bool killed_hard = false;
    std::string_view input = spec.input_text;
    if (input.empty()) {
        s.in.reset();
    }
    std::array<char, 65536> buf;

    // Reads what `fd` holds now; at its end closes it.
    auto drain = [&](Fd& fd, bool errors) {
        while (fd.get() >= 0) {
            ssize_t n = ::read(fd.get(), buf.data(), buf.size());
            if (n > 0) {
                std::string_view chunk(buf.data(), static_cast<size_t>(n));
                errors ? sink.on_error_output(chunk) : sink.on_output(chunk);
            } else if (n == 0) {
                fd.reset();
            } else if (errno != EINTR) {
                break;  // EAGAIN: nothing more for now
            }
        }
    };
    auto feed = [&] {
        ssize_t n = write_no_sigpipe(s.in.get(), input);
        if (n > 0) {
            input.remove_prefix(static_cast<size_t>(n));
        }
        if (input.empty() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            s.in.reset();  // all written, or the child does not read: it sees end of file
        }
    };
    auto start_stopping = [&](ExitKind why) {
        stop_reason = why;
        ::kill(-pid, SIGTERM);
        deadline = now() + spec.kill_grace;
    };

    int status = 0;
    for (;;) {
        // Reap first: when the pidfd is unavailable we fall back to polling waitpid.
        pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            break;
        }
        std::array<pollfd, 5> fds{};
        nfds_t nfds = 0;
        auto add = [&](int fd, short events) {
            if (fd < 0) {
                return -1;
            }
            fds[nfds] = pollfd{fd, events, 0};
            return static_cast<int>(nfds++);
        };
        int out_index = add(s.out.get(), POLLIN);
        int err_index = add(s.err.get(), POLLIN);
        int in_index = add(s.in.get(), POLLOUT);
        add(pidfd.get(), POLLIN);
        int cancel_index = add(cancel && !stop_reason ? cancel->fd() : -1, POLLIN);
        int timeout = poll_timeout_ms(deadline);
        if (pidfd.get() < 0 && (timeout < 0 || timeout > 20)) {
            timeout = 20;
        }
        int n = ::poll(fds.data(), nfds, timeout);
        if (n < 0 && errno != EINTR) {
            return fail(errno_error("waiting for '" + spec.argv.front() + "'", errno));
        }
        auto ready = [&](int index, short events) {
            return index >= 0 && (fds[static_cast<size_t>(index)].revents & events) != 0;
        };
        if (ready(out_index, POLLIN | POLLHUP | POLLERR)) {
            drain(s.out, false);
        }
        if (ready(err_index, POLLIN | POLLHUP | POLLERR)) {
            drain(s.err, true);
        }
        if (ready(in_index, POLLOUT | POLLHUP | POLLERR)) {
            feed();
        }
        if (ready(cancel_index, POLLIN)) {
            start_stopping(ExitKind::cancelled);
        }
        if (deadline != Steady::time_point::max() && now() >= deadline) {
            if (!stop_reason) {
                start_stopping(ExitKind::timed_out);
            } else if (!killed_hard) {
                ::kill(-pid, SIGKILL);
                killed_hard = true;
                deadline = Steady::time_point::max();
            }
        }
    }
    drain(s.out, false);
    drain(s.err, true);
    if (stop_reason) {
        ::kill(-pid, SIGKILL);  // stragglers in the group
    }

    ProcessOutcome outcome = outcome_of(status);
    outcome.elapsed = std::chrono::duration_cast<Millis>(now() - s.started);
    if (stop_reason) {
        outcome.kind = *stop_reason;
        outcome.code = -1;
    }
    return outcome;
}

}  // namespace

std::unique_ptr<ProcessRunner> make_process_runner() {
    return std::make_unique<LinuxProcessRunner>();
}

}  // namespace shipshape::os
