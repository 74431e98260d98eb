// The supervisor process: enters the namespaces, owns the Engine and answers requests from the
// process that started it (and from bodies running inside) over SOCK_SEQPACKET sockets, one
// message per request and per reply. Commands are its children, in its pid namespace.
#include "faults/supervisor.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "core/assert.hpp"
#include "core/clock.hpp"
#include "faults/engine.hpp"
#include "faults/supervisor_process.hpp"
#include "os/errno_error.hpp"

extern char** environ;

namespace shipshape::faults {

namespace {

using Steady = std::chrono::steady_clock;

void send_reply(int fd, const std::string& text) {
    // A client that went away cannot be answered; the supervisor goes on for the others.
    (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
}

std::string err_reply(const Error& e) {
    return "err " + std::string(errc_name(e.code())) + " " + e.message();
}

struct Child {
    std::vector<std::string> argv;
    Steady::time_point started;
    std::optional<CommandOutcome> outcome;
    int waiter = -1;  // a client fd waiting for it
    uint64_t oom_kills_before = 0;
};

class Supervisor {
  public:
    Supervisor(int parent_fd, SandboxOptions options)
        : m_engine(options.preload_library), m_options(std::move(options)) {
        m_clients.push_back(parent_fd);
    }

    Status setup(const std::vector<Fault>& faults) {
        auto begin = system_clock().monotonic();
        m_engine.begin_setup();
        for (const auto& f : faults) {
            if (auto st = m_engine.add(m_next_fault++, f); !st) {
                return st;
            }
        }
        if (auto st = m_engine.finish_setup(); !st) {
            return st;
        }
        m_setup = std::chrono::duration_cast<Millis>(system_clock().monotonic() - begin);
        return {};
    }

    [[noreturn]] void serve(int sigchld_fd) {
        for (;;) {
            std::vector<pollfd> fds;
            fds.push_back({sigchld_fd, POLLIN, 0});
            for (int c : m_clients) {
                fds.push_back({c, POLLIN, 0});
            }
            int n = ::poll(fds.data(), fds.size(), next_timeout());
            if (n < 0 && errno != EINTR) {
                finish(-1);
            }
            run_timeline();
            escalate_interrupt();
            if (m_engine.needs_sampling()) {
                m_engine.sample();
            }
            if (fds[0].revents & POLLIN) {
                signalfd_siginfo info{};
                while (::read(sigchld_fd, &info, sizeof info) > 0) {
                }
                reap();
            }
            for (size_t i = 1; i < fds.size(); ++i) {
                if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                    handle(fds[i].fd);
                }
            }
        }
    }

  private:
    int64_t now_ms() const {
        if (!m_t0) {
            return 0;
        }
        return std::chrono::duration_cast<Millis>(system_clock().monotonic() - *m_t0).count();
    }

    int next_timeout() const {
        int timeout = m_engine.needs_sampling() ? 10 : -1;
        if (m_interrupt_stage > 0 && m_interrupt_stage < 3) {
            auto wait =
                std::chrono::duration_cast<Millis>(m_next_escalation - system_clock().monotonic());
            int ms = static_cast<int>(std::max<int64_t>(0, wait.count()) + 1);
            timeout = timeout < 0 ? ms : std::min(timeout, ms);
        }
        if (!m_t0) {
            return timeout;
        }
        int64_t now = now_ms();
        for (const auto& [id, f] : m_engine.faults()) {
            for (auto edge : {f.start, f.stop}) {
                if (edge && edge->count() > now && !m_done_edges.count({id, edge->count()})) {
                    int wait = static_cast<int>(edge->count() - now);
                    timeout = timeout < 0 ? wait : std::min(timeout, wait);
                }
            }
        }
        return timeout;
    }

    void run_timeline() {
        if (!m_t0) {
            return;
        }
        int64_t now = now_ms();
        for (const auto& [id, f] : m_engine.faults()) {
            if (f.start && f.start->count() <= now && !m_done_edges.count({id, f.start->count()})) {
                m_done_edges.insert({id, f.start->count()});
                // The report says when the fault really went on, which may be after the edge.
                record(m_engine.set_on(id, true, now));
            }
            if (f.stop && f.stop->count() <= now && !m_done_edges.count({id, f.stop->count()})) {
                m_done_edges.insert({id, f.stop->count()});
                record(m_engine.set_on(id, false, now));
            }
        }
    }

    // The user asked to stop: SIGINT to everything in the sandbox now, SIGTERM after the
    // grace, SIGKILL after another.
    void interrupt() {
        if (m_interrupt_stage == 0) {
            m_interrupt_stage = 1;
            signal_sandbox(m_child_pidns, SIGINT);
            m_next_escalation = system_clock().monotonic() + m_options.interrupt_grace;
        }
    }

    void escalate_interrupt() {
        if (m_interrupt_stage == 0 || m_interrupt_stage == 3 ||
            system_clock().monotonic() < m_next_escalation) {
            return;
        }
        bool running = false;
        for (const auto& [pid, c] : m_children) {
            running = running || !c.outcome;
        }
        if (!running) {
            m_interrupt_stage = 3;
            return;
        }
        signal_sandbox(m_child_pidns, m_interrupt_stage == 1 ? SIGTERM : SIGKILL);
        ++m_interrupt_stage;
        m_next_escalation = system_clock().monotonic() + m_options.interrupt_grace;
    }

    void record(const Status& st) {
        if (!st) {
            m_timeline_errors.push_back(st.error().message());
        }
    }

    // Reaps the children this supervisor forked itself (start_child, the namespace's init):
    // they are not os::ProcessRunner's, so nothing else waits for them.
    void reap() {
        for (;;) {
            int status = 0;
            pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid <= 0) {
                return;
            }
            auto it = m_children.find(pid);
            if (it == m_children.end()) {
                continue;  // the init process or a tool
            }
            Child& c = it->second;
            CommandOutcome o;
            o.argv = c.argv;
            if (WIFSIGNALED(status)) {
                o.kind = CommandExit::signaled;
                o.code = WTERMSIG(status);
            } else {
                o.code = WEXITSTATUS(status);
            }
            o.elapsed = std::chrono::duration_cast<Millis>(system_clock().monotonic() - c.started);
            o.oom_killed = o.kind == CommandExit::signaled && o.code == SIGKILL &&
                           m_engine.memory_stats().oom_kills > c.oom_kills_before;
            c.outcome = o;
            m_finished.push_back(o);
            if (c.waiter >= 0) {
                send_reply(c.waiter, outcome_reply(o));
                c.waiter = -1;
            }
        }
    }

    static std::string outcome_reply(const CommandOutcome& o) {
        return "ok " + std::string(o.kind == CommandExit::exited ? "exited" : "signaled") + " " +
               std::to_string(o.code) + " " + (o.oom_killed ? "1" : "0") + " " +
               std::to_string(o.elapsed.count());
    }

    // Starts a command (or, with body_fd >= 0, the body) in the sandbox and tracks it.
    Result<pid_t> start_child(const std::vector<std::string>& argv, const std::string& cwd,
                              int body_fd) {
        uint64_t oom_before = m_engine.memory_stats().oom_kills;
        auto pid =
            fork_command(argv, cwd, body_fd, m_engine.child_setup(), m_child_pidns, m_options.body);
        if (!pid) {
            return pid;
        }
        Child c;
        c.argv = argv;
        c.started = system_clock().monotonic();
        c.oom_kills_before = oom_before;
        m_children.emplace(*pid, std::move(c));
        if (!m_t0) {
            m_t0 = system_clock().monotonic();
            run_timeline();
        }
        return pid;
    }

    void handle(int fd) {
        std::string buf(1 << 20, '\0');
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) {
            if (fd == m_clients.front()) {
                finish(-1);  // the starter is gone: nobody wants the report
            }
            ::close(fd);
            std::erase(m_clients, fd);
            return;
        }
        buf.resize(static_cast<size_t>(n));
        auto space = buf.find(' ');
        std::string verb = buf.substr(0, space);
        std::string rest = space == std::string::npos ? "" : buf.substr(space + 1);
        if (verb == "spawn" || verb == "body") {
            std::vector<std::string> parts;
            size_t i = 0;
            while (i <= rest.size()) {
                size_t j = rest.find('\0', i);
                parts.push_back(rest.substr(i, j == std::string::npos ? std::string::npos : j - i));
                if (j == std::string::npos) {
                    break;
                }
                i = j + 1;
            }
            std::string cwd = parts.empty() ? "" : parts.front();
            std::vector<std::string> argv(parts.begin() + (parts.empty() ? 0 : 1), parts.end());
            int pair[2] = {-1, -1};
            if (verb == "body") {
                argv = {"(body)"};
                if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
                    send_reply(fd, err_reply(os::errno_error("socketpair", errno)));
                    return;
                }
            } else if (argv.empty() || argv.front().empty()) {
                send_reply(fd, "err invalid_argument an empty command");
                return;
            }
            auto pid = start_child(argv, cwd, pair[1]);
            if (pair[1] >= 0) {
                ::close(pair[1]);
                if (pid) {
                    m_clients.push_back(pair[0]);
                } else {
                    ::close(pair[0]);
                }
            }
            send_reply(fd, pid ? "ok " + std::to_string(*pid) : err_reply(pid.error()));
        } else if (verb == "wait") {
            auto it = m_children.find(std::atoi(rest.c_str()));
            if (it == m_children.end()) {
                send_reply(fd, "err not_found no command " + rest + " in this sandbox");
            } else if (it->second.outcome) {
                send_reply(fd, outcome_reply(*it->second.outcome));
            } else {
                it->second.waiter = fd;
            }
        } else if (verb == "add") {
            auto sp = rest.find(' ');
            auto kind = parse_fault_kind(rest.substr(0, sp));
            auto fault =
                kind ? parse_fault_flag(
                           *kind, sp == std::string::npos ? std::string() : rest.substr(sp + 1))
                     : Result<Fault>(
                           fail(Errc::invalid_argument, "unknown fault kind '" + rest + "'"));
            if (!fault) {
                send_reply(fd, err_reply(fault.error()));
                return;
            }
            fault->origin = "added at run time";
            std::vector<Fault> all;
            for (const auto& [id, f] : m_engine.faults()) {
                all.push_back(f);
            }
            all.push_back(*fault);
            if (auto st = validate_faults(all); !st) {
                send_reply(fd, err_reply(st.error()));
                return;
            }
            int id = m_next_fault++;
            if (fault->start && m_t0) {
                // A window on a fault added mid-run counts from now, not from the first spawn.
                *fault->start += Millis(now_ms());
                if (fault->stop) {
                    *fault->stop += Millis(now_ms());
                }
            }
            auto st = m_engine.add(id, *fault, now_ms());
            send_reply(fd, st ? "ok " + std::to_string(id) : err_reply(st.error()));
        } else if (verb == "enable" || verb == "disable") {
            auto st = m_engine.set_on(std::atoi(rest.c_str()), verb == "enable", now_ms());
            send_reply(fd, st ? "ok" : err_reply(st.error()));
        } else if (verb == "report") {
            send_reply(fd, "ok " + report_to_json(make_report()));
        } else if (verb == "interrupt") {
            interrupt();  // no reply: the starter is waiting for the reply to another request
        } else if (verb == "finish") {
            finish(fd);
        } else {
            send_reply(fd, "err invalid_argument unknown request '" + verb + "'");
        }
    }

    Report make_report() {
        Report r;
        r.faults = m_engine.outcomes();
        r.commands = m_finished;
        r.setup = m_setup;
        r.user_namespace = m_userns;
        for (auto& f : r.faults) {
            for (const auto& e : m_timeline_errors) {
                f.note += (f.note.empty() ? "" : "; ") + ("timeline: " + e);
            }
        }
        return r;
    }

    [[noreturn]] void finish(int reply_fd) {
        auto begin = system_clock().monotonic();
        // Commands still running are stopped: politely, then not.
        for (auto& [pid, c] : m_children) {
            if (!c.outcome) {
                ::kill(pid, SIGTERM);
            }
        }
        auto deadline = system_clock().monotonic() + std::chrono::seconds(2);
        for (;;) {
            reap();
            bool running = false;
            for (auto& [pid, c] : m_children) {
                running = running || !c.outcome;
            }
            if (!running) {
                break;
            }
            if (system_clock().monotonic() > deadline) {
                for (auto& [pid, c] : m_children) {
                    if (!c.outcome) {
                        ::kill(pid, SIGKILL);
                    }
                }
            }
            ::usleep(5000);
        }
        int64_t end = now_ms();
        auto loss = m_engine.power_loss();
        m_engine.teardown(end);
        if (m_record) {
            m_record->finish();  // before the reply: whoever reads it finds the record gone
        }
        Report r = make_report();
        if (!loss) {
            for (auto& f : r.faults) {
                if (f.fault.kind == FaultKind::lose_unsynced) {
                    f.note += "power loss failed: " + loss.error().message();
                }
            }
        }
        r.teardown = std::chrono::duration_cast<Millis>(system_clock().monotonic() - begin);
        if (reply_fd >= 0) {
            send_reply(reply_fd, "ok " + report_to_json(r));
        }
        ::_exit(0);
    }

  public:
    void teardown_after_failed_setup() {
        m_engine.teardown(0);
        if (m_record) {
            m_record->finish();
        }
    }
    // Keeps `record` (null: none, because of `error`) for the sandbox's life.
    void keep_record(std::unique_ptr<SandboxRecord> record, std::string error) {
        m_record = std::move(record);
        m_engine.set_record(m_record.get(), std::move(error));
    }
    bool m_userns = false;
    int m_child_pidns = -1;

  private:
    std::unique_ptr<SandboxRecord> m_record;  // outlives m_engine, which points to it
    Engine m_engine;
    SandboxOptions m_options;
    std::vector<int> m_clients;
    std::map<pid_t, Child> m_children;
    std::vector<CommandOutcome> m_finished;
    std::optional<Steady::time_point> m_t0;
    std::set<std::pair<int, int64_t>> m_done_edges;
    std::vector<std::string> m_timeline_errors;
    int m_next_fault = 1;
    Millis m_setup{0};
    int m_interrupt_stage = 0;  // 0 none, 1 SIGINT sent, 2 SIGTERM sent, 3 SIGKILL sent
    Steady::time_point m_next_escalation;
};

}  // namespace

void run_supervisor(int fd, pid_t parent, const std::vector<Fault>& faults,
                    const SandboxOptions& options) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
        ::_exit(1);
    }
    ::signal(SIGPIPE, SIG_IGN);
    // Ctrl-C goes to the whole foreground group; the supervisor ends only when told to (or when
    // its starter dies), so it can always report and tear down.
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    // Sandbox::start blocked them across the fork; pending ones are discarded now.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        sigaddset(&stop_signals, sig);
    }
    ::sigprocmask(SIG_UNBLOCK, &stop_signals, nullptr);
    if (options.cancel_fd >= 0) {
        ::close(options.cancel_fd);  // the starter's; commands must not inherit it
    }
    bool userns = ::geteuid() != 0;
    // First of all, before it owns anything outside its namespaces: without root it never
    // does (a memory cgroup needs root), and the directory is root's.
    std::unique_ptr<SandboxRecord> record;
    std::string record_error = "no record directory was given";
    if (!userns && !options.record_dir.empty()) {
        auto created = SandboxRecord::create(options.record_dir);
        if (created) {
            record = std::move(*created);
        } else {
            record_error = created.error().message();
        }
    }
    if (auto st = enter_namespaces(); !st) {
        send_reply(fd, err_reply(st.error()));
        ::_exit(0);
    }
    // SIGCHLD through a signalfd; blocked before any thread starts so every thread inherits it.
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    int sigfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    Supervisor sup(fd, options);
    sup.keep_record(std::move(record), std::move(record_error));
    sup.m_userns = userns;
    if (auto st = sup.setup(faults); !st) {
        sup.teardown_after_failed_setup();
        send_reply(fd, err_reply(st.error()));
        ::_exit(0);
    }
    // The pid namespace comes last. A thread whose children go to another pid namespace cannot
    // start threads, so the fault threads (FUSE, NFQUEUE) are started above, before this
    // thread unshares. The namespace's init is forked right away; then, where the privilege
    // allows it (root), this thread's children return to its own namespace, so faults added
    // later can still start threads, and commands are forked into the sandbox's namespace by
    // switching to it around each fork. Without root the switch back is refused, commands are
    // forked into it directly, and a fault added later that needs a thread is refused.
    int own_pidns = ::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (own_pidns < 0 || ::unshare(CLONE_NEWPID) != 0) {
        sup.teardown_after_failed_setup();
        send_reply(fd,
                   err_reply(Error(Errc::unsupported,
                                   os::errno_error("creating a pid namespace", errno).message())));
        ::_exit(0);
    }
    // The namespace's init must be a fork of this process (it runs run_init, no program), and
    // the first child after unshare(CLONE_NEWPID): os::ProcessRunner cannot start it (#13).
    pid_t init = ::fork();
    if (init == 0) {
        ::close(fd);
        run_init();
    }
    if (!userns) {
        int child_pidns =
            ::open(("/proc/" + std::to_string(init) + "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC);
        if (child_pidns < 0 || ::setns(own_pidns, CLONE_NEWPID) != 0) {
            sup.teardown_after_failed_setup();
            send_reply(fd, err_reply(os::errno_error("switching pid namespaces", errno)));
            ::_exit(0);
        }
        sup.m_child_pidns = child_pidns;
    }
    ::close(own_pidns);
    send_reply(fd, "ok ready");
    sup.serve(sigfd);
}

}  // namespace shipshape::faults
