// The starting side of a sandbox: prerequisite checks, the fork of the supervisor, and the
// request/reply client (Control).
#include "faults/sandbox.hpp"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/assert.hpp"
#include "faults/cgroup.hpp"
#include "faults/supervisor.hpp"
#include "faults/supervisor_process.hpp"
#include "os/errno_error.hpp"
#include "os/self_exe.hpp"

namespace shipshape::faults {

namespace {

constexpr size_t k_max_message = 1 << 20;

// "ok REST" → REST; "err CODE MESSAGE" → that error.
Result<std::string> parse_reply(const std::string& reply) {
    if (reply == "ok") {
        return std::string();
    }
    if (reply.rfind("ok ", 0) == 0) {
        return reply.substr(3);
    }
    if (reply.rfind("err ", 0) == 0) {
        auto sp = reply.find(' ', 4);
        auto code = parse_errc_name(reply.substr(4, sp - 4));
        return fail(code.value_or(Errc::internal),
                    sp == std::string::npos ? reply : reply.substr(sp + 1));
    }
    return fail(Errc::internal, "the sandbox supervisor sent '" + reply + "'");
}

std::string default_preload() {
    std::string dir = os::self_exe();
    if (dir.empty()) {
        return {};
    }
    dir = dir.substr(0, dir.rfind('/'));
    for (const char* candidate :
         {"/libshipshape_clock_skew.so", "/../lib/shipshape/libshipshape_clock_skew.so",
          "/../src/faults/libshipshape_clock_skew.so"}) {
        std::string p = dir + candidate;
        if (::access(p.c_str(), R_OK) == 0) {
            return p;
        }
    }
    return dir + "/libshipshape_clock_skew.so";
}

// What can be told before forking: faults that need real root, and device files.
Status check_prerequisites(const std::vector<Fault>& faults) {
    bool root = ::geteuid() == 0;
    for (const auto& f : faults) {
        switch (f.kind) {
            case FaultKind::memory:
                if (!root) {
                    return fail(Errc::unsupported,
                                f.origin +
                                    " needs root: a memory cgroup cannot be created by "
                                    "an unprivileged user here (run as root, or drop "
                                    "--memory and use --alloc-limit)");
                }
                break;
            case FaultKind::io_error:
            case FaultKind::slow_io:
            case FaultKind::lose_unsynced: {
                struct stat st {};
                if (::stat("/dev/fuse", &st) != 0) {
                    return fail(Errc::unsupported, f.origin +
                                                       " needs FUSE: /dev/fuse is missing (load "
                                                       "the fuse kernel module)");
                }
                if (!root) {
                    return fail(Errc::unsupported,
                                f.origin +
                                    " needs root: mounting the FUSE fault file system "
                                    "requires it on this machine");
                }
                break;
            }
            default:
                break;
        }
    }
    return {};
}

// A signal that means the supervisor crashed (our bug), not that something outside killed it.
bool crash_signal(int sig) {
    for (int crash : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS}) {
        if (sig == crash) {
            return true;
        }
    }
    return false;
}

std::string signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
}

std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const auto& i : items) {
        text += (text.empty() ? "" : ", ") + i;
    }
    return text;
}

// Errc::io: the supervisor's end of the connection is gone (it died).
Error supervisor_gone() {
    return Error(Errc::io, "the sandbox supervisor went away");
}

bool gone_errno(int err) {
    return err == EPIPE || err == ECONNRESET || err == ENOTCONN;
}

}  // namespace

Result<std::string> Control::request(const std::string& message) {
    if (::send(m_fd, message.data(), message.size(), MSG_NOSIGNAL) < 0) {
        if (gone_errno(errno)) {
            m_lost = true;
            return fail(supervisor_gone());
        }
        return fail(os::errno_error("talking to the sandbox supervisor", errno));
    }
    // Wait for the reply, and for the user's stop while it takes: a command that survives
    // SIGINT would otherwise run to its end with the starter blocked here.
    for (;;) {
        pollfd fds[2] = {{m_fd, POLLIN, 0}, {m_cancel_fd, POLLIN, 0}};
        bool watch_cancel = m_cancel_fd >= 0 && !m_interrupted;
        int ready = ::poll(fds, watch_cancel ? 2 : 1, -1);
        if (ready < 0 && errno != EINTR) {
            return fail(os::errno_error("waiting for the sandbox supervisor", errno));
        }
        if (ready > 0 && watch_cancel && (fds[1].revents & POLLIN)) {
            // No reply comes to "interrupt"; the one to `message` still does.
            static constexpr std::string_view k_interrupt = "interrupt";
            if (::send(m_fd, k_interrupt.data(), k_interrupt.size(), MSG_NOSIGNAL) < 0 &&
                !gone_errno(errno)) {  // gone: the recv below tells
                return fail(os::errno_error("talking to the sandbox supervisor", errno));
            }
            m_interrupted = true;
        }
        if (ready > 0 && fds[0].revents != 0) {
            break;
        }
    }
    std::string buf(k_max_message, '\0');
    ssize_t n = 0;
    while ((n = ::recv(m_fd, buf.data(), buf.size(), 0)) < 0 && errno == EINTR) {
    }
    if (n == 0 || (n < 0 && gone_errno(errno))) {
        m_lost = true;
        return fail(supervisor_gone());
    }
    if (n < 0) {
        return fail(os::errno_error("waiting for the sandbox supervisor", errno));
    }
    buf.resize(static_cast<size_t>(n));
    return buf;
}

Result<std::string> Control::call(const std::string& message) {
    auto reply = request(message);
    if (!reply) {
        return fail(reply.error());
    }
    return parse_reply(*reply);
}

Result<int> Control::add(const Fault& fault) {
    auto body =
        call("add " + std::string(fault_kind_name(fault.kind)) + " " + format_fault_value(fault));
    if (!body) {
        return fail(body.error());
    }
    return std::atoi(body->c_str());
}

Status Control::enable(int id) {
    auto body = call("enable " + std::to_string(id));
    return body ? Status{} : fail(body.error());
}

Status Control::disable(int id) {
    auto body = call("disable " + std::to_string(id));
    return body ? Status{} : fail(body.error());
}

Result<Report> Control::report() {
    auto body = call("report");
    if (!body) {
        return fail(body.error());
    }
    return parse_report_json(*body);
}

Result<std::unique_ptr<Sandbox>> Sandbox::start(const std::vector<Fault>& faults,
                                                SandboxOptions options) {
    if (auto st = validate_faults(faults); !st) {
        return fail(st.error());
    }
    if (auto st = check_prerequisites(faults); !st) {
        return fail(st.error());
    }
    if (options.preload_library.empty()) {
        options.preload_library = default_preload();
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        return fail(os::errno_error("socketpair", errno));
    }
    std::fflush(nullptr);
    pid_t parent = ::getpid();
    // Not through os::ProcessRunner: the supervisor is no program to exec but this process's
    // own code, which goes on to unshare namespaces; only a fork gives it that (#13).
    // Stop signals stay pending across the fork: the child ignores them before it unblocks
    // them, and ours run our handlers (the cancel fd) once unblocked below.
    pid_t pid = fork_with_stop_signals_blocked();
    if (pid < 0) {
        int err = errno;
        ::close(pair[0]);
        ::close(pair[1]);
        return fail(os::errno_error("starting the sandbox supervisor", err));
    }
    if (pid == 0) {
        ::close(pair[0]);
        run_supervisor(pair[1], parent, faults, options);
    }
    ::close(pair[1]);
    std::unique_ptr<Sandbox> sandbox(new Sandbox(pid, pair[0], options.cancel_fd));
    // The child is ours and not reaped yet, so its start time is readable even if it died.
    auto stat = read_proc_stat(pid);
    sandbox->m_start_time = stat ? stat->start_time : 0;
    sandbox->m_record_dir = options.record_dir;
    std::string buf(4096, '\0');
    ssize_t n = 0;
    while ((n = ::recv(pair[0], buf.data(), buf.size(), 0)) < 0 && errno == EINTR) {
    }
    if (n <= 0) {
        sandbox->m_finished = true;
        return fail(sandbox->lost_supervisor("while setting up"));
    }
    buf.resize(static_cast<size_t>(n));
    auto ready = parse_reply(buf);
    if (!ready) {
        sandbox->m_finished = true;
        return fail(ready.error());
    }
    return sandbox;
}

Sandbox::~Sandbox() {
    if (!m_finished) {
        (void)finish();
    }
    ::close(m_fd);
    int status = 0;
    // The supervisor was forked above, not started by os::ProcessRunner: we reap it here.
    while (!m_reaped && ::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
}

Error Sandbox::checked(const Error& e) {
    if (m_lost) {
        return *m_lost;
    }
    return m_control.lost() ? lost_supervisor() : e;
}

Error Sandbox::lost_supervisor(const std::string& when) {
    if (m_lost) {
        return *m_lost;
    }
    // Its end of the connection closes only when it exits, so this wait is short.
    int status = 0;
    pid_t got = 0;
    while ((got = ::waitpid(m_pid, &status, 0)) < 0 && errno == EINTR) {
    }
    m_reaped = true;
    m_finished = true;
    std::string who = "the fault supervisor (pid " + std::to_string(m_pid) + ")";
    std::string suffix = when.empty() ? "" : " " + when;
    Errc code = Errc::internal;  // it exited or crashed: a bug of ours
    std::string cause = who + " went away" + suffix;
    if (got == m_pid && WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        code = crash_signal(sig) ? Errc::internal : Errc::io;
        cause = who + (crash_signal(sig) ? " crashed with " : " was killed by ") +
                signal_name(sig) + suffix + ", and the command in its sandbox with it";
    } else if (got == m_pid && WIFEXITED(status)) {
        cause = who + " exited with status " + std::to_string(WEXITSTATUS(status)) + suffix;
    }
    // The kernel drops the record's lock with the supervisor: its leftovers are removable now.
    auto cleanup = cleanup_dead_sandbox(m_record_dir, m_pid, m_start_time);
    std::string after;
    if (!cleanup.failures.empty()) {
        after = "cleaning up its sandbox failed (" + join(cleanup.failures) +
                "): run 'shipshape fault --cleanup'";
    } else if (!cleanup.removed.empty()) {
        after = "its sandbox was cleaned up (removed " + join(cleanup.removed) + ")";
    } else if (!cleanup.live.empty()) {  // its record is locked: a --cleanup is at work
        after = "another 'shipshape fault --cleanup' is removing what it left";
    } else if (m_start_time == 0) {  // its record could not be named
        after = "run 'shipshape fault --cleanup' to remove what it left";
    } else {
        after = "it left nothing behind";
    }
    m_lost = Error(code, cause + "; " + after);
    return *m_lost;
}

Result<int> Sandbox::spawn(const std::vector<std::string>& argv, const std::string& cwd) {
    if (argv.empty()) {
        return fail(Errc::invalid_argument, "no command to run in the sandbox");
    }
    std::string message = "spawn " + cwd;
    for (const auto& a : argv) {
        message.push_back('\0');
        message += a;
    }
    auto body = m_control.call(message);
    if (!body) {
        return fail(checked(body.error()));
    }
    return std::atoi(body->c_str());
}

Result<int> Sandbox::call_body() {
    auto body = m_control.call("body ");
    if (!body) {
        return fail(checked(body.error()));
    }
    return std::atoi(body->c_str());
}

Result<CommandOutcome> Sandbox::wait(int id) {
    auto body = m_control.call("wait " + std::to_string(id));
    if (!body) {
        return fail(checked(body.error()));
    }
    CommandOutcome o;
    char kind[16] = {};
    int oom = 0;
    long long elapsed = 0;
    if (std::sscanf(body->c_str(), "%15s %d %d %lld", kind, &o.code, &oom, &elapsed) != 4) {
        return fail(Errc::internal, "the sandbox supervisor sent '" + *body + "'");
    }
    o.kind = std::string_view(kind) == "signaled" ? CommandExit::signaled : CommandExit::exited;
    o.oom_killed = oom != 0;
    o.elapsed = Millis(elapsed);
    return o;
}

ScopedFault Sandbox::scoped(const Fault& fault) {
    auto id = m_control.add(fault);
    if (!id) {
        std::fprintf(stderr, "shipshape sandbox: adding a fault failed: %s\n",
                     id.error().message().c_str());
        SHIPSHAPE_ASSERT(id.has_value());
    }
    return ScopedFault(m_control, *id);
}

Result<int> Sandbox::add(std::string_view kind, std::string_view value) {
    auto k = parse_fault_kind(kind);
    if (!k) {
        return fail(Errc::invalid_argument, "unknown fault kind '" + std::string(kind) + "'");
    }
    auto f = parse_fault_flag(*k, value);
    if (!f) {
        return fail(f.error());
    }
    return m_control.add(*f);
}

Result<Report> Sandbox::finish() {
    if (m_lost) {
        return fail(*m_lost);
    }
    if (m_finished) {
        return fail(Errc::invalid_argument, "the sandbox has already finished");
    }
    m_finished = true;
    auto body = m_control.call("finish");
    if (!body) {
        return fail(checked(body.error()));
    }
    return parse_report_json(*body);
}

Result<Report> run_with_faults(const std::vector<Fault>& faults,
                               const std::vector<std::string>& argv, SandboxOptions options) {
    auto sandbox = Sandbox::start(faults, std::move(options));
    if (!sandbox) {
        return fail(sandbox.error());
    }
    auto outcome = (*sandbox)->run(argv);
    auto report = (*sandbox)->finish();
    if (!outcome) {
        return fail(outcome.error());
    }
    return report;
}

CleanupReport cleanup_leftovers(const std::string& record_dir) {
    return cleanup_dead_sandboxes(record_dir);
}

}  // namespace shipshape::faults
