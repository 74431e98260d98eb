#include "os/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/assert.hpp"
#include "os/errno_error.hpp"

extern char** environ;

namespace shipshape::os {

namespace {

using Clock = std::chrono::steady_clock;

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

int poll_timeout_ms(Clock::time_point deadline) {
    if (deadline == Clock::time_point::max()) {
        return -1;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count()) + 1;
}

}  // namespace

Result<CancelSource> CancelSource::create() {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        return fail(errno_error("creating eventfd", errno));
    }
    return CancelSource(fd);
}

CancelSource::CancelSource(CancelSource&& other) noexcept : m_fd(other.m_fd) {
    other.m_fd = -1;
}

CancelSource::~CancelSource() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

void CancelSource::cancel() const {
    uint64_t one = 1;
    // Async-signal-safe; a failure here (counter overflow) still leaves the fd readable.
    [[maybe_unused]] ssize_t n = ::write(m_fd, &one, sizeof one);
}

bool CancelSource::cancelled() const {
    pollfd p{m_fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

std::string_view exit_kind_name(ExitKind kind) {
    switch (kind) {
        case ExitKind::exited:
            return "exited";
        case ExitKind::signaled:
            return "signaled";
        case ExitKind::timed_out:
            return "timed_out";
        case ExitKind::cancelled:
            return "cancelled";
    }
    return "exited";
}

std::optional<ExitKind> parse_exit_kind(std::string_view name) {
    for (auto k :
         {ExitKind::exited, ExitKind::signaled, ExitKind::timed_out, ExitKind::cancelled}) {
        if (exit_kind_name(k) == name) {
            return k;
        }
    }
    return std::nullopt;
}

std::string describe(const ProcessOutcome& outcome, Millis timeout) {
    switch (outcome.kind) {
        case ExitKind::exited:
            return "exit " + std::to_string(outcome.code);
        case ExitKind::signaled: {
            const char* name = sigabbrev_np(outcome.code);
            return std::string("killed by SIG") + (name ? name : std::to_string(outcome.code));
        }
        case ExitKind::timed_out:
            return "timed out after " + format_duration(timeout);
        case ExitKind::cancelled:
            return "interrupted";
    }
    return "unknown";
}

namespace {

class LinuxProcessRunner final : public ProcessRunner {
  public:
    Result<ProcessOutcome> run(const ProcessSpec& spec, OutputSink& sink,
                               const CancelSource* cancel) override;
};

Result<ProcessOutcome> LinuxProcessRunner::run(const ProcessSpec& spec, OutputSink& sink,
                                               const CancelSource* cancel) {
    if (spec.argv.empty()) {
        return fail(Errc::invalid_argument, "empty command");
    }
    auto program = resolve_program(spec);
    if (!program) {
        return fail(program.error());
    }

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        return fail(errno_error("creating output pipe", errno));
    }
    Fd out_r(pipe_fds[0]);
    Fd out_w(pipe_fds[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, out_w.get(), 2);
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

    const auto started = Clock::now();
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, program->c_str(), &actions, &attr, argv.data(), env_ptr);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    out_w.reset();
    if (rc != 0) {
        std::string what = "starting '" + spec.argv.front() + "'";
        if (!spec.cwd.empty() && rc == ENOENT && ::access(spec.cwd.c_str(), F_OK) != 0) {
            what += " in '" + spec.cwd + "'";
        }
        return fail(errno_error(what, rc));
    }
    if (spec.on_started) {
        spec.on_started(pid);
    }
    ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);

    Fd pidfd(pidfd_open(pid));
    // time_point::max() means "no deadline".
    Clock::time_point deadline = Clock::time_point::max();
    if (spec.timeout.count() > 0) {
        deadline = started + spec.timeout;
    }
    std::optional<ExitKind> stop_reason;
    bool killed_hard = false;
    bool pipe_open = true;
    std::array<char, 65536> buf;

    auto drain = [&]() {
        while (pipe_open) {
            ssize_t n = ::read(out_r.get(), buf.data(), buf.size());
            if (n > 0) {
                sink.on_output(std::string_view(buf.data(), static_cast<size_t>(n)));
            } else if (n == 0) {
                pipe_open = false;
            } else if (errno == EINTR) {
                continue;
            } else {
                break;  // EAGAIN: nothing more for now
            }
        }
    };
    auto start_stopping = [&](ExitKind why) {
        stop_reason = why;
        ::kill(-pid, SIGTERM);
        deadline = Clock::now() + spec.kill_grace;
    };

    int status = 0;
    for (;;) {
        // Reap first: when the pidfd is unavailable we fall back to polling waitpid.
        pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            break;
        }
        std::array<pollfd, 3> fds{};
        nfds_t nfds = 0;
        int pipe_index = -1;
        if (pipe_open) {
            pipe_index = static_cast<int>(nfds);
            fds[nfds++] = pollfd{out_r.get(), POLLIN, 0};
        }
        if (pidfd.get() >= 0) {
            fds[nfds++] = pollfd{pidfd.get(), POLLIN, 0};
        }
        int cancel_index = -1;
        if (cancel && !stop_reason) {
            cancel_index = static_cast<int>(nfds);
            fds[nfds++] = pollfd{cancel->fd(), POLLIN, 0};
        }
        int timeout = poll_timeout_ms(deadline);
        if (pidfd.get() < 0 && (timeout < 0 || timeout > 20)) {
            timeout = 20;
        }
        int n = ::poll(fds.data(), nfds, timeout);
        if (n < 0 && errno != EINTR) {
            return fail(errno_error("waiting for '" + spec.argv.front() + "'", errno));
        }
        if (pipe_index >= 0 &&
            (fds[static_cast<size_t>(pipe_index)].revents & (POLLIN | POLLHUP))) {
            drain();
        }
        if (cancel_index >= 0 && (fds[static_cast<size_t>(cancel_index)].revents & POLLIN)) {
            start_stopping(ExitKind::cancelled);
        }
        if (deadline != Clock::time_point::max() && Clock::now() >= deadline) {
            if (!stop_reason) {
                start_stopping(ExitKind::timed_out);
            } else if (!killed_hard) {
                ::kill(-pid, SIGKILL);
                killed_hard = true;
                deadline = Clock::time_point::max();
            }
        }
    }
    drain();
    if (stop_reason) {
        ::kill(-pid, SIGKILL);  // stragglers in the group
    }

    ProcessOutcome outcome;
    outcome.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - started);
    if (stop_reason) {
        outcome.kind = *stop_reason;
        outcome.code = -1;
    } else if (WIFEXITED(status)) {
        outcome.kind = ExitKind::exited;
        outcome.code = WEXITSTATUS(status);
    } else {
        outcome.kind = ExitKind::signaled;
        outcome.code = WTERMSIG(status);
    }
    return outcome;
}

}  // namespace

std::unique_ptr<ProcessRunner> make_process_runner() {
    return std::make_unique<LinuxProcessRunner>();
}

std::optional<unsigned long long> process_start_ticks(pid_t pid) {
    if (pid <= 0) {
        return std::nullopt;
    }
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    if (!in) {
        return std::nullopt;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    size_t close = text.rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    // A zombie has exited: it counts as gone.
    if (close + 2 < text.size() && (text[close + 2] == 'Z' || text[close + 2] == 'X')) {
        return std::nullopt;
    }
    // Fields after the name start at 3 (state); starttime is field 22.
    for (int i = 3; i <= 22; ++i) {
        if (!(fields >> field)) {
            return std::nullopt;
        }
    }
    return std::strtoull(field.c_str(), nullptr, 10);
}

bool terminate_process_group(pid_t pgid, unsigned long long start_ticks, Millis grace) {
    auto now_ticks = process_start_ticks(pgid);
    if (!now_ticks || *now_ticks != start_ticks) {
        return false;
    }
    if (::kill(-pgid, SIGTERM) != 0) {
        return false;
    }
    auto until = Clock::now() + grace;
    while (Clock::now() < until) {
        if (::kill(-pgid, 0) != 0) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(-pgid, SIGKILL);
    return true;
}

}  // namespace shipshape::os
