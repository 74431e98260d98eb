// The process side of the supervisor: entering the namespaces, the pid namespace's init,
// forking commands into the sandbox and signalling everything in it.
//
// This is the one place outside src/os/ that calls fork and waitpid directly, by necessity: a
// command must be forked by the supervisor itself, between setns() calls into the sandbox's pid
// namespace, and must join the cgroup and take its rlimit between fork and exec, which no
// spawn API (os::ProcessRunner, posix_spawn) offers.
#include "faults/supervisor_process.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/assert.hpp"
#include "os/errno_error.hpp"

extern char** environ;

namespace shipshape::faults {

namespace {

Status write_proc(const std::string& path, const std::string& value) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(os::errno_error("opening " + path, errno));
    }
    ssize_t n = ::write(fd, value.data(), value.size());
    int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(value.size())) {
        return fail(os::errno_error("writing " + path, err));
    }
    return {};
}

}  // namespace

Status enter_namespaces() {
    uid_t uid = ::geteuid();
    gid_t gid = ::getegid();
    if (uid != 0) {
        if (::unshare(CLONE_NEWUSER) != 0) {
            return fail(Errc::unsupported,
                        os::errno_error("creating a user namespace (needed without root; "
                                        "check kernel.unprivileged_userns_clone)",
                                        errno)
                            .message());
        }
        if (auto st = write_proc("/proc/self/setgroups", "deny"); !st) {
            return st;
        }
        if (auto st = write_proc("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1"); !st) {
            return st;
        }
        if (auto st = write_proc("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"); !st) {
            return st;
        }
        // Tools the supervisor runs (cp for --disk-full) must not try to keep unmapped owners.
        ::setenv("SHIPSHAPE_FAULT_USERNS", "1", 1);
    }
    if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
        return fail(Errc::unsupported,
                    os::errno_error("creating network and mount namespaces", errno).message());
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        return fail(os::errno_error("making the sandbox's mounts private", errno));
    }
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return fail(os::errno_error("socket", errno));
    }
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    bool up = ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    up = up && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    int err = errno;
    ::close(s);
    if (!up) {
        return fail(os::errno_error("bringing up the sandbox's loopback", err));
    }
    return {};
}

// The pid namespace's init: reaps orphans and keeps the namespace alive until the supervisor
// dies, which kills it, which makes the kernel kill everything else inside.
[[noreturn]] void run_init() {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    ::sigaction(SIGCHLD, &sa, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (;;) {
        if (::waitpid(-1, nullptr, 0) < 0) {
            ::pause();
        }
    }
}

Result<pid_t> fork_command(const std::vector<std::string>& argv, const std::string& cwd,
                           int body_fd, const ChildSetup& setup, int child_pidns,
                           const std::function<int(Control&)>& body) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
        env_strings.emplace_back(*e);
    }
    for (const auto& extra : setup.extra_env) {
        env_strings.push_back(extra);
    }
    std::vector<char*> envp;
    envp.reserve(env_strings.size() + 1);
    for (auto& e : env_strings) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    argp.reserve(args.size() + 1);
    for (auto& a : args) {
        argp.push_back(a.data());
    }
    argp.push_back(nullptr);
    char pid_text[16] = "0";
    int errpipe[2];
    if (::pipe2(errpipe, O_CLOEXEC) != 0) {
        return fail(os::errno_error("pipe", errno));
    }
    int own_pidns = -1;
    if (child_pidns >= 0 && ((own_pidns = ::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) < 0 ||
                             ::setns(child_pidns, CLONE_NEWPID) != 0)) {
        int err = errno;
        if (own_pidns >= 0) {
            ::close(own_pidns);
        }
        ::close(errpipe[0]);
        ::close(errpipe[1]);
        return fail(os::errno_error("entering the sandbox's pid namespace", err));
    }
    // Not through os::ProcessRunner: the child must be forked between setns() calls into the
    // sandbox's pid namespace and run code of ours before exec, and the supervisor, as the
    // children's parent, reaps them all in reap() (#13).
    // A stop signal between the fork and the child's reset of its dispositions (below)
    // must not be lost to the supervisor's SIG_IGN: blocked, it stays pending (Linux keeps
    // blocked ignored signals) until the child, with default dispositions, unblocks it.
    pid_t pid = fork_with_stop_signals_blocked();
    if (own_pidns >= 0) {
        int back = ::setns(own_pidns, CLONE_NEWPID);
        ::close(own_pidns);
        SHIPSHAPE_ASSERT(pid == 0 || back == 0);
    }
    if (pid < 0) {
        int err = errno;
        ::close(errpipe[0]);
        ::close(errpipe[1]);
        return fail(os::errno_error("fork", err));
    }
    if (pid == 0) {
        ::close(errpipe[0]);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        // The supervisor ignores these; ignored dispositions survive exec. Reset them
        // before unblocking, so a stop signal pending since the fork takes effect.
        for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) {
            ::signal(sig, SIG_DFL);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        int step_err = 0;
        if (!setup.cgroup_procs.empty()) {
            int fd = ::open(setup.cgroup_procs.c_str(), O_WRONLY | O_CLOEXEC);
            int len = std::snprintf(pid_text, sizeof pid_text, "%d", ::getpid());
            if (fd < 0 || ::write(fd, pid_text, static_cast<size_t>(len)) != len) {
                step_err = errno ? errno : EIO;
            }
            if (fd >= 0) {
                ::close(fd);
            }
        }
        if (!step_err && setup.address_space_limit) {
            rlimit rl{setup.address_space_limit, setup.address_space_limit};
            if (::setrlimit(RLIMIT_AS, &rl) != 0) {
                step_err = errno;
            }
        }
        if (!step_err && !cwd.empty() && ::chdir(cwd.c_str()) != 0) {
            step_err = errno;
        }
        if (step_err) {
            int code = -step_err;  // negative: a set-up step failed, not exec
            [[maybe_unused]] auto w = ::write(errpipe[1], &code, sizeof code);
            ::_exit(127);
        }
        if (body_fd >= 0) {
            ::close(errpipe[1]);
            Control control(body_fd);
            int rc = body ? body(control) : 0;
            std::fflush(nullptr);
            ::_exit(rc);
        }
        ::execvpe(argp[0], argp.data(), envp.data());
        int code = errno;
        [[maybe_unused]] auto w = ::write(errpipe[1], &code, sizeof code);
        ::_exit(127);
    }
    ::close(errpipe[1]);
    int code = 0;
    ssize_t got = 0;
    while ((got = ::read(errpipe[0], &code, sizeof code)) < 0 && errno == EINTR) {
    }
    ::close(errpipe[0]);
    if (got == sizeof code) {
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        if (code < 0) {
            return fail(os::errno_error("preparing '" + argv[0] + "' in the sandbox", -code));
        }
        return fail(Errc::not_found,
                    os::errno_error("cannot run '" + argv[0] + "'", code).message());
    }
    return pid;
}

pid_t fork_with_stop_signals_blocked() {
    sigset_t stop_signals;
    sigset_t old_mask;
    sigemptyset(&stop_signals);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        sigaddset(&stop_signals, sig);
    }
    ::sigprocmask(SIG_BLOCK, &stop_signals, &old_mask);
    pid_t pid = ::fork();
    if (pid != 0) {
        ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    }
    return pid;
}

// Sends `sig` to every process in the sandbox's pid namespace but its init: the commands
// and all they started, as a terminal's Ctrl-C reaches a whole foreground job. The
// command's own pid is not enough: a shell waiting for its child acts on SIGINT only once
// that child has died of it. kill(-1) from inside the namespace reaches exactly those, so
// a short-lived child is forked into it (it is reaped with the other children); it runs
// code of ours, no program, so os::ProcessRunner cannot start it (#13).
void signal_sandbox(int child_pidns, int sig) {
    int own_pidns = -1;
    if (child_pidns >= 0) {
        own_pidns = ::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_pidns < 0 || ::setns(child_pidns, CLONE_NEWPID) != 0) {
            if (own_pidns >= 0) {
                ::close(own_pidns);
            }
            return;
        }
    }
    pid_t pid = ::fork();
    if (pid == 0) {
        ::kill(-1, sig);
        ::_exit(0);
    }
    if (own_pidns >= 0) {
        int back = ::setns(own_pidns, CLONE_NEWPID);
        ::close(own_pidns);
        SHIPSHAPE_ASSERT(back == 0);
    }
}

}  // namespace shipshape::faults
