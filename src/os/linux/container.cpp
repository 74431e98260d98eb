#include "os/container.hpp"
#include "os/linux/container_caps.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "os/errno_error.hpp"

extern char** environ;

namespace shipshape::os {

namespace {

// Everything the child needs, computed before the clone: between clone() and exec() the child
// only makes system calls on these prepared strings (the caller may have other threads).
struct Plan {
    const ContainerSpec* spec = nullptr;
    bool userns = false;
    bool detach = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string uid_map;
    std::string gid_map;
    int netns_fd = -1;
    std::vector<std::string> cgroup_procs;
    std::string scratch;  // where the container's tmpfs is mounted (in its own mount ns)
    std::string upper;
    std::string work;
    std::string root;  // where the overlay is mounted
    std::string overlay_options;
    struct Bind {
        std::string source;
        std::string target;
        bool read_only = true;
        bool is_dir = true;
    };
    std::vector<Bind> binds;
    std::vector<std::string> dev_targets;  // root/dev/<name> for each device bound
    std::vector<std::string> dev_sources;
    std::vector<const char*> argv;
    std::vector<const char*> envp;
    int error_fd = -1;
    int log_fd = -1;   // start_container's log file, opened by the caller
    int null_fd = -1;  // /dev/null, for start_container
};

constexpr const char* k_devices[] = {"null", "zero", "full", "random", "urandom", "tty"};

// The failure report the child sends: "<errno> <step>".
[[noreturn]] void child_fail(const Plan& p, const char* step, int err) {
    char buf[512];
    int n = std::snprintf(buf, sizeof buf, "%d %s", err, step);
    if (n > 0) {
        ssize_t w = ::write(p.error_fd, buf, static_cast<size_t>(n) < sizeof buf ? n : sizeof buf);
        (void)w;
    }
    ::_exit(127);
}

bool write_text(const char* path, const std::string& text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

// mkdir -p for a path the plan made absolute; errors surface at the mount that follows.
void make_dirs(const std::string& path) {
    std::string partial;
    partial.reserve(path.size());
    for (size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '/' && i > 0) {
            ::mkdir(partial.c_str(), 0755);
        }
        partial.push_back(path[i]);
    }
    ::mkdir(path.c_str(), 0755);
}

// Creates the mount point for a bind of a file (an empty file) or a directory.
void make_mount_point(const std::string& target, bool is_dir) {
    auto slash = target.rfind('/');
    if (slash != std::string::npos && slash > 0) {
        make_dirs(target.substr(0, slash));
    }
    if (is_dir) {
        ::mkdir(target.c_str(), 0755);
    } else {
        int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ::close(fd);
        }
    }
}

unsigned long locked_flags(const std::string& path) {
    struct statvfs sv {};
    if (::statvfs(path.c_str(), &sv) != 0) {
        return 0;
    }
    unsigned long f = 0;
    f |= (sv.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
    f |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
    f |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
    f |= (sv.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
    f |= (sv.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
    f |= (sv.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
    return f;
}

void bind(const Plan& p, const std::string& source, const std::string& target, bool read_only,
          bool is_dir) {
    make_mount_point(target, is_dir);
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        child_fail(p, "bind-mounting a directory or file", errno);
    }
    if (read_only &&
        ::mount(nullptr, target.c_str(), nullptr,
                MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(target), nullptr) != 0) {
        child_fail(p, "making a bind mount read-only", errno);
    }
}

void loopback_up(const Plan& p) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        child_fail(p, "opening a socket to bring lo up", errno);
    }
    struct ifreq req {};
    std::memcpy(req.ifr_name, "lo", 3);
    if (::ioctl(s, SIOCGIFFLAGS, &req) != 0) {
        child_fail(p, "reading lo's flags", errno);
    }
    req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
    if (::ioctl(s, SIOCSIFFLAGS, &req) != 0) {
        child_fail(p, "bringing lo up", errno);
    }
    ::close(s);
}

void make_root(const Plan& p) {
    const ContainerSpec& s = *p.spec;
    if (::mount("shipshape-container", p.scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                "mode=0755") != 0) {
        child_fail(p, "mounting the container's tmpfs", errno);
    }
    if (s.upper_dir.empty()) {
        ::mkdir(p.upper.c_str(), 0755);
        ::mkdir(p.work.c_str(), 0755);
    }
    if (s.mount_at.empty()) {
        ::mkdir(p.root.c_str(), 0755);
    }
    if (::mount("overlay", p.root.c_str(), "overlay", 0, p.overlay_options.c_str()) != 0) {
        child_fail(p, "mounting the overlay root", errno);
    }
    if (!s.mount_at.empty()) {
        return;
    }
    const std::string proc = p.root + "/proc";
    ::mkdir(proc.c_str(), 0555);
    if (::mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        child_fail(p, "mounting /proc", errno);
    }
    // /sys, read-only, showing this network namespace's interfaces. Optional: a user namespace
    // that does not own the network namespace (network host) may not mount it.
    const std::string sys = p.root + "/sys";
    ::mkdir(sys.c_str(), 0555);
    (void)::mount("sysfs", sys.c_str(), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  nullptr);
    const std::string dev = p.root + "/dev";
    ::mkdir(dev.c_str(), 0755);
    if (::mount("shipshape-dev", dev.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") != 0) {
        child_fail(p, "mounting /dev", errno);
    }
    for (size_t i = 0; i < p.dev_targets.size(); ++i) {
        bind(p, p.dev_sources[i], p.dev_targets[i], false, false);
    }
    const std::string pts = dev + "/pts";
    ::mkdir(pts.c_str(), 0755);
    // devpts is optional: a container without one still runs everything but terminals.
    if (::mount("devpts", pts.c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620") == 0) {
        (void)::symlink("pts/ptmx", (dev + "/ptmx").c_str());
    }
    const std::string shm = dev + "/shm";
    ::mkdir(shm.c_str(), 01777);
    (void)::mount("shipshape-shm", shm.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    (void)::symlink("/proc/self/fd", (dev + "/fd").c_str());
    (void)::symlink("/proc/self/fd/0", (dev + "/stdin").c_str());
    (void)::symlink("/proc/self/fd/1", (dev + "/stdout").c_str());
    (void)::symlink("/proc/self/fd/2", (dev + "/stderr").c_str());
    const std::string tmp = p.root + "/tmp";
    ::mkdir(tmp.c_str(), 01777);
    if (::mount("shipshape-tmp", tmp.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
        child_fail(p, "mounting /tmp", errno);
    }
    // Binds last, so that one below /tmp or /dev (a CI workspace in /tmp) lands on the
    // container's own tmpfs instead of being hidden by it.
    for (const auto& b : p.binds) {
        bind(p, b.source, b.target, b.read_only, b.is_dir);
    }
    if (::chdir(p.root.c_str()) != 0) {
        child_fail(p, "entering the new root", errno);
    }
    if (::syscall(SYS_pivot_root, ".", ".") != 0) {
        child_fail(p, "pivot_root", errno);
    }
    if (::umount2(".", MNT_DETACH) != 0) {
        child_fail(p, "detaching the old root", errno);
    }
}

std::atomic<pid_t> g_command{0};

void forward_signal(int sig) {
    pid_t pid = g_command.load();
    if (pid > 0) {
        ::kill(pid, sig);
    }
}

constexpr int k_forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

[[noreturn]] void exec_command(const Plan& p) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : k_forwarded) {
        ::signal(sig, SIG_DFL);
    }
    ::signal(SIGPIPE, SIG_DFL);
    if (::chdir(p.spec->cwd.empty() ? "/" : p.spec->cwd.c_str()) != 0) {
        child_fail(p, "entering the working directory", errno);
    }
    // execvp searches the PATH of `environ`: the container's environment, not ours.
    environ = const_cast<char**>(p.envp.data());
    ::execvp(p.argv[0], const_cast<char* const*>(p.argv.data()));
    child_fail(p, "exec", errno);
}

// The container's init (pid 1): everything between clone() and the command's exec.
[[noreturn]] void container_init(const Plan& p) {
    const ContainerSpec& s = *p.spec;
    if (p.detach) {
        ::setsid();
        // Nothing of the caller's stays open in a daemon (a caller reading our output to its
        // end would wait for ever): stdin from /dev/null, output to the log (opened by the
        // caller: its path is the caller's) or /dev/null.
        ::dup2(p.null_fd, 0);
        ::dup2(p.log_fd >= 0 ? p.log_fd : p.null_fd, 1);
        ::dup2(p.log_fd >= 0 ? p.log_fd : p.null_fd, 2);
    }
    if (p.userns) {
        if (!write_text("/proc/self/setgroups", "deny") ||
            !write_text("/proc/self/uid_map", p.uid_map) ||
            !write_text("/proc/self/gid_map", p.gid_map)) {
            child_fail(p, "mapping the user namespace", errno);
        }
    }
    for (const auto& procs : p.cgroup_procs) {
        if (!write_text(procs.c_str(), "0")) {
            child_fail(p, "joining the limits cgroup", errno);
        }
    }
    if (s.limits.open_files) {
        struct rlimit r {};
        r.rlim_cur = r.rlim_max = *s.limits.open_files;
        if (::setrlimit(RLIMIT_NOFILE, &r) != 0) {
            child_fail(p, "setting the open files limit", errno);
        }
    }
    if (p.netns_fd >= 0 && ::setns(p.netns_fd, CLONE_NEWNET) != 0) {
        child_fail(p, "entering the network namespace", errno);
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        child_fail(p, "making mounts private", errno);
    }
    if (!s.hostname.empty() && ::sethostname(s.hostname.data(), s.hostname.size()) != 0) {
        child_fail(p, "setting the hostname", errno);
    }
    if (s.network == ContainerNetwork::none) {
        loopback_up(p);
    }
    make_root(p);
    if (!s.mount_at.empty()) {
        (void)::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    }
    for (int sig : k_forwarded) {
        struct sigaction sa {};
        sa.sa_handler = forward_signal;
        sigemptyset(&sa.sa_mask);
        ::sigaction(sig, &sa, nullptr);
    }
    if (s.privileges == ContainerPrivileges::restricted) {
        if (s.mount_at.empty()) {  // the kernel's tunables, read-only (pid 1 sees the new root)
            bind(p, "/proc/sys", "/proc/sys", true, true);
            if (::access("/proc/sysrq-trigger", F_OK) == 0) {  // absent on some kernels
                bind(p, "/proc/sysrq-trigger", "/proc/sysrq-trigger", true, false);
            }
        }
        if (int err = linux_detail::restrict_capabilities(); err != 0) {
            child_fail(p, "dropping capabilities", err);
        }
    }
    // vfork: the command's exec does not pay for copying our page tables (the child only makes
    // system calls on prepared data, then execs or _exits).
    pid_t child = ::vfork();
    if (child < 0) {
        child_fail(p, "starting the command", errno);
    }
    if (child == 0) {
        exec_command(p);
    }
    g_command.store(child);
    ::close(p.error_fd);
    for (;;) {
        int st = 0;
        pid_t r = ::waitpid(-1, &st, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            ::_exit(127);
        }
        if (r == child) {
            ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
    }
}

std::string container_scratch(bool root) {
    if (root) {
        return "/run/shipshape-container";
    }
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/shipshape-container-" +
           std::to_string(::getuid());
}

Status make_plan(const ContainerSpec& s, bool detach, Plan& p) {
    if (s.lower_dirs.empty()) {
        return fail(Errc::invalid_argument, "a container needs at least one lower directory");
    }
    if (s.argv.empty()) {
        return fail(Errc::invalid_argument, "a container needs a command");
    }
    if (!s.upper_dir.empty() && s.work_dir.empty()) {
        return fail(Errc::invalid_argument, "an overlay upper directory needs a work directory");
    }
    for (const auto& d : s.lower_dirs) {
        if (d.find_first_of(":,") != std::string::npos) {
            return fail(Errc::invalid_argument,
                        "overlay layer paths may not contain ':' or ',': " + d);
        }
    }
    p.spec = &s;
    p.detach = detach;
    p.uid = ::geteuid();
    p.gid = ::getegid();
    p.userns = p.uid != 0;
    if (p.userns && (!s.mount_at.empty() || s.network == ContainerNetwork::named ||
                     s.limits.memory_bytes || s.limits.cpus)) {
        return fail(Errc::unsupported,
                    "named network namespaces, cgroup limits and mounting an image in place "
                    "need root");
    }
    p.uid_map = "0 " + std::to_string(p.uid) + " 1";
    p.gid_map = "0 " + std::to_string(p.gid) + " 1";
    p.scratch = container_scratch(!p.userns);
    if (::mkdir(p.scratch.c_str(), 0700) != 0 && errno != EEXIST) {
        return fail(errno_error("creating " + p.scratch, errno));
    }
    p.upper = s.upper_dir.empty() ? p.scratch + "/upper" : s.upper_dir;
    p.work = s.upper_dir.empty() ? p.scratch + "/work" : s.work_dir;
    p.root = s.mount_at.empty() ? p.scratch + "/root" : s.mount_at;
    std::string lower;
    for (const auto& d : s.lower_dirs) {
        lower += (lower.empty() ? "" : ":") + d;
    }
    p.overlay_options = "lowerdir=" + lower + ",upperdir=" + p.upper + ",workdir=" + p.work;
    if (p.userns) {
        // trusted.* xattrs are out of reach in a user namespace: overlayfs keeps its own in user.*.
        p.overlay_options += ",userxattr";
    }
    for (const auto& b : s.binds) {
        if (b.destination.empty() || b.destination.front() != '/') {
            return fail(
                Errc::invalid_argument,
                "a bind mount's destination must be an absolute path: '" + b.destination + "'");
        }
        struct stat st {};
        if (::stat(b.source.c_str(), &st) != 0) {
            return fail(errno_error("bind mount source '" + b.source + "'", errno));
        }
        p.binds.push_back({b.source, p.root + b.destination, b.read_only, S_ISDIR(st.st_mode)});
    }
    for (const char* d : k_devices) {
        p.dev_sources.push_back(std::string("/dev/") + d);
        p.dev_targets.push_back(p.root + "/dev/" + d);
    }
    for (const auto& a : s.argv) {
        p.argv.push_back(a.c_str());
    }
    p.argv.push_back(nullptr);
    for (const auto& e : s.env) {
        p.envp.push_back(e.c_str());
    }
    p.envp.push_back(nullptr);
    if (detach) {
        p.null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (p.null_fd < 0) {
            return fail(errno_error("opening /dev/null", errno));
        }
    }
    if (detach && !s.log_file.empty()) {
        p.log_fd = ::open(s.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (p.log_fd < 0) {
            return fail(errno_error("opening the log " + s.log_file, errno));
        }
    }
    if (s.network == ContainerNetwork::named) {
        const std::string path = "/run/netns/" + s.netns;
        p.netns_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (p.netns_fd < 0) {
            return fail(errno_error("network namespace " + path, errno));
        }
    }
    return {};
}

Error child_error(const Plan& p, const std::string& report) {
    auto space = report.find(' ');
    int err = std::atoi(report.substr(0, space).c_str());
    std::string step = space == std::string::npos ? report : report.substr(space + 1);
    const std::string what = std::string(::strerror(err));
    if (step == "exec") {
        return Error{err == ENOENT ? Errc::not_found : Errc::io,
                     "running '" + p.spec->argv[0] + "' in the container: " + what};
    }
    if (p.userns && (err == EPERM || err == EINVAL) &&
        (step == "mapping the user namespace" || step == "mounting the overlay root")) {
        return Error{Errc::unsupported,
                     step == "mounting the overlay root"
                         ? "overlayfs is not available in a user namespace here (" + what +
                               "; Linux 5.11 or later allows it, or run as root)"
                         : "user namespaces are not usable here (" + what + ")"};
    }
    if (step == "mounting the overlay root" && err == ENODEV) {
        return Error{Errc::unsupported, "this kernel has no overlayfs"};
    }
    return errno_error("container: " + step, err);
}

Result<pid_t> launch(const ContainerSpec& spec, bool detach, Plan& p) {
    if (auto ok = make_plan(spec, detach, p); !ok) {
        return fail(ok.error());
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        if (p.netns_fd >= 0) {
            ::close(p.netns_fd);
        }
        return fail(errno_error("creating a pipe", errno));
    }
    p.error_fd = fds[1];
    unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
    flags |= p.userns ? CLONE_NEWUSER : 0;
    flags |= spec.network == ContainerNetwork::none ? CLONE_NEWNET : 0;
    // A raw clone (fork semantics, new namespaces): see the header for why this forks itself.
    long pid = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    int clone_errno = errno;
    if (pid == 0) {
        ::close(fds[0]);
        container_init(p);
    }
    ::close(fds[1]);
    if (p.netns_fd >= 0) {
        ::close(p.netns_fd);
    }
    if (p.log_fd >= 0) {
        ::close(p.log_fd);
    }
    if (p.null_fd >= 0) {
        ::close(p.null_fd);
    }
    if (pid < 0) {
        ::close(fds[0]);
        if (clone_errno == EPERM || clone_errno == EINVAL || clone_errno == ENOSPC) {
            return fail(Errc::unsupported,
                        std::string("cannot create namespaces here (") + ::strerror(clone_errno) +
                            (p.userns ? "; user namespaces may be disabled)" : ")"));
        }
        return fail(errno_error("creating the container", clone_errno));
    }
    std::string report;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        report.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    if (!report.empty()) {
        int st = 0;
        while (::waitpid(static_cast<pid_t>(pid), &st, 0) < 0 && errno == EINTR) {
        }
        return fail(child_error(p, report));
    }
    return static_cast<pid_t>(pid);
}

}  // namespace

Result<int> run_container(const ContainerSpec& spec) {
    Plan p;
    const std::string cgroup =
        "shipshape-run-" + std::to_string(::getpid()) + "-" + std::to_string(::gettid());
    const bool limited = spec.limits.memory_bytes || spec.limits.cpus;
    if (limited) {
        auto procs = make_limit_cgroups(cgroup, spec.limits);
        if (!procs) {
            return fail(procs.error());
        }
        p.cgroup_procs = std::move(*procs);
    }
    auto pid = launch(spec, false, p);
    if (!pid) {
        if (limited) {
            remove_limit_cgroups(cgroup);
        }
        return fail(pid.error());
    }
    int st = 0;
    while (::waitpid(*pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (limited) {
        remove_limit_cgroups(cgroup);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Result<pid_t> start_container(const ContainerSpec& spec) {
    Plan p;
    return launch(spec, true, p);
}

std::string container_unsupported_reason() {
    ContainerSpec s;
    s.lower_dirs = {"/"};
    s.argv = {"/bin/true"};
    auto r = run_container(s);
    if (!r) {
        return r.error().message();
    }
    return *r == 0 ? "" : "a test container's /bin/true exited with status " + std::to_string(*r);
}

}  // namespace shipshape::os
