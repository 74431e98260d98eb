#include "fleet/fleet.hpp"

#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <thread>

#include "os/errno_error.hpp"

extern char** environ;

namespace shipshape::fleet {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

std::string hex64(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string local_arch() {
    struct utsname u {};
    ::uname(&u);
    return u.machine;
}

int ms_until(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// The last non-empty lines of ssh's stderr: its reason for failing.
std::string reason_of(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
        text.pop_back();
    }
    // Lines ssh prints that say nothing about the failure.
    std::string out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? nl : nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        while (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.empty() || line.rfind("Warning: Permanently added", 0) == 0) {
            continue;
        }
        out += (out.empty() ? "" : "; ") + line;
    }
    if (out.size() > 600) {
        out = "..." + out.substr(out.size() - 600);
    }
    return out.empty() ? "ssh gave no reason" : out;
}

struct Child {
    pid_t pid = -1;
    int in = -1;   // our end of its stdin
    int out = -1;  // our end of its stdout
    int err = -1;  // our end of its stderr
};

void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

// Starts argv with pipes for the streams asked (a -1 in `stdin_fd` etc. means a pipe; -2 means
// /dev/null; anything else is that descriptor). Its own process group, so Ctrl-C on the
// terminal reaches us, not the ssh clients: we end their sessions ourselves.
Result<Child> spawn(const std::vector<std::string>& argv, int stdin_fd, int stdout_fd,
                    int stderr_fd) {
    Child c;
    int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    const int wanted[3] = {stdin_fd, stdout_fd, stderr_fd};
    auto cleanup = [&] {
        for (auto& p : pipes) {
            close_fd(p[0]);
            close_fd(p[1]);
        }
    };
    for (int i = 0; i < 3; ++i) {
        if (wanted[i] == -1 && ::pipe2(pipes[i], O_CLOEXEC) != 0) {
            int e = errno;
            cleanup();
            return fail(os::errno_error("creating a pipe", e));
        }
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int i = 0; i < 3; ++i) {
        if (wanted[i] == -1) {
            posix_spawn_file_actions_adddup2(&fa, i == 0 ? pipes[i][0] : pipes[i][1], i);
        } else if (wanted[i] == -2) {
            posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
        } else {
            posix_spawn_file_actions_adddup2(&fa, wanted[i], i);
        }
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t all;
    sigset_t none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    int rc = ::posix_spawnp(&c.pid, args[0], &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        cleanup();
        return fail(rc == ENOENT ? Error(Errc::unsupported,
                                         "'" + argv[0] +
                                             "' not found: the fleet transport needs the OpenSSH "
                                             "client (Debian: apt install openssh-client)")
                                 : os::errno_error("starting " + argv[0], rc));
    }
    close_fd(pipes[0][0]);
    close_fd(pipes[1][1]);
    close_fd(pipes[2][1]);
    c.in = pipes[0][1];
    c.out = pipes[1][0];
    c.err = pipes[2][0];
    if (c.in >= 0) {
        ::fcntl(c.in, F_SETFL, O_NONBLOCK);
    }
    return c;
}

// Waits for `pid` until `deadline`; then SIGKILLs its process group and reaps it. Returns the
// wait status, or nullopt when it had to be killed.
std::optional<int> reap(pid_t pid, Clock::time_point deadline) {
    int status = 0;
    for (;;) {
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return status;
        }
        if (r < 0 && errno != EINTR) {
            return std::nullopt;
        }
        if (Clock::now() >= deadline) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

int exit_code_of(std::optional<int> status) {
    if (status && WIFEXITED(*status)) {
        return WEXITSTATUS(*status);
    }
    return -1;
}

bool socket_alive(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        return false;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

std::string shell_quote(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    out += '\'';
    return out;
}

int default_forks(size_t hosts) {
    return static_cast<int>(std::clamp<size_t>(hosts, 1, 64));
}

void fan_out(size_t n, int forks, const std::function<void(size_t)>& fn) {
    if (n == 0) {
        return;
    }
    size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(forks, 1)));
    if (threads == 1) {
        for (size_t i = 0; i < n; ++i) {
            fn(i);
        }
        return;
    }
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (size_t i = next++; i < n; i = next++) {
                fn(i);
            }
        });
    }
    for (auto& t : pool) {
        t.join();
    }
}

namespace {

// The GNU build id the linker put into this executable: a hash of its content, so a new build
// gets a new agent name. Empty when the binary has none.
std::string build_id() {
    std::string out;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) -> int {
            auto& id = *static_cast<std::string*>(data);
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const auto& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_NOTE) {
                    continue;
                }
                // The loader hands out addresses as integers.
                const ElfW(Addr) at = info->dlpi_addr + ph.p_vaddr;
                // NOLINTNEXTLINE(performance-no-int-to-ptr)
                const auto* p = reinterpret_cast<const unsigned char*>(at);
                const auto* end = p + ph.p_memsz;
                while (p + sizeof(ElfW(Nhdr)) <= end) {
                    const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
                    const unsigned char* name = p + sizeof(ElfW(Nhdr));
                    const unsigned char* desc = name + ((n->n_namesz + 3) & ~3u);
                    if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
                        std::memcmp(name, "GNU", 4) == 0) {
                        for (unsigned k = 0; k < n->n_descsz; ++k) {
                            char hex[3];
                            std::snprintf(hex, sizeof hex, "%02x", desc[k]);
                            id += hex;
                        }
                        return 1;
                    }
                    p = desc + ((n->n_descsz + 3) & ~3u);
                }
            }
            return 1;  // only the first object: the executable itself
        },
        &out);
    return out;
}

}  // namespace

Result<AgentBinary> this_binary(const std::string& version) {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        return fail(os::errno_error("reading /proc/self/exe", errno));
    }
    AgentBinary b;
    b.path.assign(buf, static_cast<size_t>(n));
    b.version = version;
    std::string id = build_id();
    if (id.size() >= 16) {
        b.hash = id.substr(0, 16);
        return b;
    }
    // No build id: hash the content (slower: the whole file is read).
    int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(os::errno_error("opening " + b.path, errno));
    }
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    std::vector<char> chunk(1 << 20);
    for (;;) {
        ssize_t r = ::read(fd, chunk.data(), chunk.size());
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        XXH3_64bits_update(st, chunk.data(), static_cast<size_t>(r));
    }
    ::close(fd);
    b.hash = hex64(XXH3_64bits_digest(st));
    XXH3_freeState(st);
    return b;
}

// One `shipshape agent` process on a host, reached through one ssh client process.
struct Session {
    Child child;
    std::string out_buf;
    std::string err_buf;
    int next_id = 1;
    bool eof = false;

    ~Session() { close(Clock::now() + std::chrono::seconds(2)); }

    // Ends the session: the agent sees end of input and exits (stopping what it runs).
    std::optional<int> close(Clock::time_point deadline) {
        close_fd(child.in);
        std::optional<int> status;
        if (child.pid > 0) {
            status = reap(child.pid, deadline);
            child.pid = -1;
        }
        close_fd(child.out);
        close_fd(child.err);
        return status;
    }
};

struct HostState {
    std::mutex master_lock;
    std::mutex lock;  // idle, stats
    std::vector<std::unique_ptr<Session>> idle;
    HostStats stats;
};

struct Fleet::Impl {
    SshOptions ssh;
    AgentBinary agent;
    const os::CancelSource* cancel = nullptr;
    std::string arch = local_arch();
    std::mutex lock;
    std::map<std::string, std::unique_ptr<HostState>> hosts;
    std::optional<Result<std::string>> control_dir;
    std::counting_semaphore<> uploads{4};

    HostState& host(const std::string& name) {
        std::lock_guard g(lock);
        auto& h = hosts[name];
        if (!h) {
            h = std::make_unique<HostState>();
        }
        return *h;
    }

    Result<std::string> dir() {
        std::lock_guard g(lock);
        if (!control_dir) {
            control_dir = make_control_dir();
        }
        return *control_dir;
    }

    Result<std::string> make_control_dir() const {
        std::string d = ssh.control_dir;
        if (d.empty()) {
            const char* xdg = std::getenv("XDG_RUNTIME_DIR");
            d = xdg && *xdg ? std::string(xdg) + "/shipshape-ssh"
                            : "/tmp/shipshape-ssh-" + std::to_string(::getuid());
        }
        if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
            return fail(os::errno_error("creating " + d, errno));
        }
        struct stat st {};
        if (::lstat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() ||
            (st.st_mode & 077) != 0) {
            return fail(Errc::permission_denied,
                        d + " must be a directory owned by you with mode 0700 (it holds ssh "
                            "control sockets); remove it and try again");
        }
        return d;
    }

    std::string control_path(const std::string& d, const Endpoint& e) const {
        std::string key = e.user + "@" + e.address + ":" + std::to_string(e.port) + "|" +
                          ssh.config + "|" + ssh.identity + "|" + ssh.known_hosts;
        for (const auto& o : ssh.options) {
            key += "|" + o;
        }
        return d + "/" + hex64(XXH3_64bits(key.data(), key.size()));
    }

    std::vector<std::string> base_argv(const std::string& control, const Endpoint& e) const {
        std::vector<std::string> a = {"ssh"};
        if (!ssh.config.empty()) {
            a.insert(a.end(), {"-F", ssh.config});
        }
        if (!ssh.identity.empty()) {
            a.insert(a.end(), {"-i", ssh.identity});
        }
        a.insert(a.end(), {"-o", "BatchMode=yes", "-o",
                           "ConnectTimeout=" + std::to_string(std::max<long long>(
                                                   1, (ssh.connect_timeout.count() + 999) / 1000)),
                           "-o", "ControlPath=" + control});
        if (ssh.known_hosts == "strict") {
            a.insert(a.end(), {"-o", "StrictHostKeyChecking=yes"});
        } else if (ssh.known_hosts == "accept-new") {
            a.insert(a.end(), {"-o", "StrictHostKeyChecking=accept-new"});
        } else if (ssh.known_hosts == "off") {
            a.insert(a.end(),
                     {"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"});
        }
        for (const auto& o : ssh.options) {
            a.insert(a.end(), {"-o", o});
        }
        if (e.port != 22) {
            a.insert(a.end(), {"-p", std::to_string(e.port)});
        }
        if (!e.user.empty()) {
            a.insert(a.end(), {"-l", e.user});
        }
        return a;
    }

    std::string who(const Endpoint& e) const {
        return e.name == e.address ? "host " + e.name : "host " + e.name + " (" + e.address + ")";
    }

    // Makes sure a live master connection to `e` exists.
    Status ensure_master(const Endpoint& e, HostState& hs) {
        auto d = dir();
        if (!d) {
            return fail(d.error());
        }
        std::string path = control_path(*d, e);
        std::lock_guard g(hs.master_lock);
        if (socket_alive(path)) {
            return {};
        }
        ::unlink(path.c_str());
        std::string log = path + ".log";
        int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (log_fd >= 0) {
            ::close(log_fd);
        }
        auto argv = base_argv(path, e);
        long long persist = std::max<long long>(1, (ssh.persist.count() + 999) / 1000);
        argv.insert(argv.end(),
                    {"-M", "-N", "-f", "-o", "ControlMaster=yes", "-o",
                     "ControlPersist=" + std::to_string(persist), "-o", "ServerAliveInterval=5",
                     "-o", "ServerAliveCountMax=3", "-E", log, "--", e.address});
        auto child = spawn(argv, -2, -2, -2);
        if (!child) {
            return fail(child.error());
        }
        // ssh's own ConnectTimeout bounds the TCP connect; this guard only catches a handshake
        // that never ends, so it leaves room for authentication on a busy machine (50 hosts
        // receiving the agent at once on two cores take seconds per handshake).
        const Millis guard = ssh.connect_timeout + std::chrono::seconds(60);
        auto deadline = Clock::now() + guard;
        std::optional<int> status;
        for (;;) {
            int st = 0;
            pid_t r = ::waitpid(child->pid, &st, WNOHANG);
            if (r == child->pid) {
                status = st;
                break;
            }
            if (cancel && cancel->cancelled()) {
                reap(child->pid, Clock::now());
                return fail(Errc::interrupted, who(e) + ": interrupted while connecting");
            }
            if (Clock::now() >= deadline) {
                reap(child->pid, Clock::now());
                return fail(Errc::unreachable, who(e) + ": unreachable: no ssh connection within " +
                                                   format_duration(guard));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        if (exit_code_of(status) != 0) {
            std::string text;
            if (int fd = ::open(log.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
                char buf[8192];
                ssize_t n = ::read(fd, buf, sizeof buf);
                if (n > 0) {
                    text.assign(buf, static_cast<size_t>(n));
                }
                ::close(fd);
            }
            return fail(Errc::unreachable, who(e) + ": unreachable: " + reason_of(text));
        }
        return {};
    }

    Result<Child> start_ssh(const Endpoint& e, const std::string& remote, int stdin_fd) {
        auto d = dir();
        if (!d) {
            return fail(d.error());
        }
        auto argv = base_argv(control_path(*d, e), e);
        argv.insert(argv.end(), {"-o", "ControlMaster=no", "-T", "--", e.address, remote});
        return spawn(argv, stdin_fd, -1, -1);
    }

    // Reads one line from the session's stdout, collecting stderr meanwhile.
    Result<std::string> read_line(Session& s, Clock::time_point deadline, const Endpoint& e) {
        for (;;) {
            size_t nl = s.out_buf.find('\n');
            if (nl != std::string::npos) {
                std::string line = s.out_buf.substr(0, nl);
                s.out_buf.erase(0, nl + 1);
                return line;
            }
            if (s.eof) {
                return fail(Errc::io, "eof");
            }
            pollfd p[3] = {{s.child.out, POLLIN, 0},
                           {s.child.err, POLLIN, 0},
                           {cancel ? cancel->fd() : -1, POLLIN, 0}};
            int n = ::poll(p, 3, ms_until(deadline));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (cancel && cancel->cancelled()) {
                return fail(Errc::interrupted, who(e) + ": interrupted");
            }
            if (n == 0) {
                return fail(Errc::timeout, who(e) + ": no answer from the agent in time");
            }
            char buf[65536];
            if (p[1].revents & (POLLIN | POLLHUP)) {
                ssize_t r = ::read(s.child.err, buf, sizeof buf);
                if (r > 0 && s.err_buf.size() < 65536) {
                    s.err_buf.append(buf, static_cast<size_t>(r));
                } else if (r == 0) {
                    p[1].fd = -1;
                    close_fd(s.child.err);
                }
            }
            if (p[0].revents & (POLLIN | POLLHUP)) {
                ssize_t r = ::read(s.child.out, buf, sizeof buf);
                if (r > 0) {
                    s.out_buf.append(buf, static_cast<size_t>(r));
                } else if (r == 0) {
                    s.eof = true;
                }
            }
        }
    }

    Status write_all(Session& s, std::string_view data, Clock::time_point deadline,
                     const Endpoint& e) {
        while (!data.empty()) {
            ssize_t w = ::write(s.child.in, data.data(), data.size());
            if (w > 0) {
                data.remove_prefix(static_cast<size_t>(w));
                continue;
            }
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0 && errno != EAGAIN) {
                return fail(Errc::io, "the connection to " + who(e) + " broke off");
            }
            pollfd p[2] = {{s.child.in, POLLOUT, 0}, {cancel ? cancel->fd() : -1, POLLIN, 0}};
            int n = ::poll(p, 2, ms_until(deadline));
            if (cancel && cancel->cancelled()) {
                return fail(Errc::interrupted, who(e) + ": interrupted");
            }
            if (n == 0) {
                return fail(Errc::timeout, who(e) + ": the agent does not read its input");
            }
        }
        return {};
    }

    // The error for a session whose agent ended (or never started).
    Error ended(Session& s, const Endpoint& e) {
        // Drain what ssh said before it went.
        if (s.child.err >= 0) {
            char buf[8192];
            ssize_t r = 0;
            while ((r = ::read(s.child.err, buf, sizeof buf)) > 0 && s.err_buf.size() < 65536) {
                s.err_buf.append(buf, static_cast<size_t>(r));
            }
        }
        auto status = s.close(Clock::now() + std::chrono::seconds(5));
        int code = exit_code_of(status);
        std::string reason = reason_of(s.err_buf);
        if (code == 255) {
            return Error(Errc::unreachable, who(e) + ": unreachable: " + reason);
        }
        if (reason.find("error while loading shared libraries") != std::string::npos) {
            return Error(Errc::unsupported,
                         who(e) + ": the shipshape agent cannot run there: " + reason +
                             " (the agent is this binary: the host needs the same libraries)");
        }
        return Error(Errc::io,
                     who(e) + ": the agent ended (exit " + std::to_string(code) + "): " + reason);
    }

    Status upload(const Endpoint& e) {
        // A few copies at a time: more only share the same CPU (ssh's encryption) and starve
        // the other hosts' handshakes.
        uploads.acquire();
        struct Release {
            std::counting_semaphore<>& s;
            ~Release() { s.release(); }
        } release{uploads};
        int fd = ::open(agent.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return fail(os::errno_error("opening " + agent.path, errno));
        }
        std::string name = "shipshape-" + agent.hash;
        std::string remote =
            "umask 022; d=\"$HOME/.cache/shipshape\"; mkdir -p \"$d\" && t=\"$d/.upload.$$\" && "
            "cat > \"$t\" && chmod 755 \"$t\" && mv -f \"$t\" \"$d/" +
            name + "\"; s=$?; rm -f \"$d/.upload.$$\"; exit $s";
        auto child = start_ssh(e, remote, fd);
        ::close(fd);
        if (!child) {
            return fail(child.error());
        }
        Session s;
        s.child = *child;
        // The remote side prints nothing on stdout; wait for the end while collecting stderr.
        auto deadline = Clock::now() + std::chrono::minutes(5);
        for (;;) {
            auto line = read_line(s, deadline, e);
            if (!line && line.error().code() == Errc::io) {
                break;  // end of output: the copy is over
            }
            if (!line) {
                return fail(line.error());
            }
        }
        auto status = s.close(deadline);
        if (exit_code_of(status) != 0) {
            Errc code = exit_code_of(status) == 255 ? Errc::unreachable : Errc::io;
            return fail(code, who(e) + ": copying the agent failed: " + reason_of(s.err_buf));
        }
        return {};
    }

    Result<std::unique_ptr<Session>> open_session(const Endpoint& e, HostState& hs) {
        std::string name = "shipshape-" + agent.hash;
        std::string remote = "a=\"$HOME/.cache/shipshape/" + name +
                             "\"; [ -x \"$a\" ] && exec \"$a\" agent; echo "
                             "\"shipshape-need-agent $(uname -m)\"";
        for (int attempt = 0; attempt < 2; ++attempt) {
            auto child = start_ssh(e, remote, -1);
            if (!child) {
                return fail(child.error());
            }
            auto s = std::make_unique<Session>();
            s->child = *child;
            auto line =
                read_line(*s, Clock::now() + ssh.connect_timeout + std::chrono::seconds(20), e);
            if (!line) {
                if (line.error().code() == Errc::io) {
                    return fail(ended(*s, e));
                }
                return fail(line.error());
            }
            const std::string need = "shipshape-need-agent";
            if (line->rfind(need, 0) == 0) {
                std::string theirs =
                    line->size() > need.size() + 1 ? line->substr(need.size() + 1) : std::string();
                s->close(Clock::now() + std::chrono::seconds(5));
                if (theirs != arch) {
                    return fail(Errc::unsupported,
                                who(e) + " is " +
                                    (theirs.empty() ? "of unknown architecture" : theirs) +
                                    ", this shipshape is " + arch +
                                    ": the agent (this binary) cannot run there; run a " + theirs +
                                    " build of shipshape as the controller for such hosts");
                }
                if (attempt > 0) {
                    return fail(Errc::io, who(e) + ": the agent is still missing after copying it");
                }
                if (auto st = upload(e); !st) {
                    return fail(st.error());
                }
                std::lock_guard g(hs.lock);
                hs.stats.agent_installed = true;
                continue;
            }
            auto hello = json::parse(*line, nullptr, false);
            if (hello.is_discarded() || !hello.is_object() ||
                hello.value("agent", "") != "shipshape") {
                return fail(Errc::io, who(e) + ": expected the agent's greeting, got \"" +
                                          line->substr(0, 200) +
                                          "\" (does the login shell print something?)");
            }
            return s;
        }
        return fail(Errc::internal, "unreachable");
    }
};

Fleet::Fleet(SshOptions ssh, AgentBinary agent, const os::CancelSource* cancel)
    : m(std::make_unique<Impl>()) {
    m->ssh = std::move(ssh);
    m->agent = std::move(agent);
    m->cancel = cancel;
}

Fleet::~Fleet() {
    // End every session at once: close all inputs first, then reap.
    std::vector<std::unique_ptr<Session>> all;
    for (auto& [name, hs] : m->hosts) {
        for (auto& s : hs->idle) {
            close_fd(s->child.in);
            all.push_back(std::move(s));
        }
    }
    auto deadline = Clock::now() + std::chrono::seconds(2);
    for (auto& s : all) {
        s->close(deadline);
    }
}

HostStats Fleet::stats(const std::string& host) const {
    std::lock_guard g(m->lock);
    auto it = m->hosts.find(host);
    if (it == m->hosts.end()) {
        return {};
    }
    std::lock_guard g2(it->second->lock);
    return it->second->stats;
}

Result<int> Fleet::run(const Endpoint& host, const std::string& remote_command, Millis timeout,
                       const std::function<void(std::string_view)>& on_output) {
    HostState& hs = m->host(host.name);
    if (auto st = m->ensure_master(host, hs); !st) {
        return fail(st.error());
    }
    auto child = m->start_ssh(host, remote_command, -2);
    if (!child) {
        return fail(child.error());
    }
    Session s;
    s.child = *child;
    auto deadline = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
    char buf[65536];
    pollfd p[3] = {{s.child.out, POLLIN, 0},
                   {s.child.err, POLLIN, 0},
                   {m->cancel ? m->cancel->fd() : -1, POLLIN, 0}};
    std::string err_tail;
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        int n = ::poll(p, 3, ms_until(deadline));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (m->cancel && m->cancel->cancelled()) {
            return fail(Errc::interrupted, m->who(host) + ": interrupted");
        }
        if (n == 0) {
            return fail(Errc::timeout, m->who(host) + ": the command did not finish in time");
        }
        for (int i = 0; i < 2; ++i) {
            if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t r = ::read(p[i].fd, buf, sizeof buf);
                if (r > 0) {
                    if (on_output) {
                        on_output(std::string_view(buf, static_cast<size_t>(r)));
                    }
                    if (i == 1) {
                        err_tail.append(buf, static_cast<size_t>(r));
                        if (err_tail.size() > 4096) {
                            err_tail.erase(0, err_tail.size() - 4096);
                        }
                    }
                } else if (r == 0 || errno != EINTR) {
                    p[i].fd = -1;
                }
            }
        }
    }
    int code = exit_code_of(s.close(deadline));
    if (code == 255) {
        // ssh's own failure, unless the command itself exited 255 over a live connection.
        auto d = m->dir();
        if (!d || !socket_alive(m->control_path(*d, host))) {
            return fail(Errc::unreachable, m->who(host) + ": unreachable: " + reason_of(err_tail));
        }
    }
    return code;
}

Result<std::string> Fleet::call(const Endpoint& host, std::string_view request, Millis timeout,
                                const EventFn& on_event) {
    HostState& hs = m->host(host.name);
    std::unique_ptr<Session> s;
    {
        std::lock_guard g(hs.lock);
        if (!hs.idle.empty()) {
            s = std::move(hs.idle.back());
            hs.idle.pop_back();
        }
    }
    if (!s) {
        if (auto st = m->ensure_master(host, hs); !st) {
            return fail(st.error());
        }
        auto opened = m->open_session(host, hs);
        if (!opened) {
            return fail(opened.error());
        }
        s = std::move(*opened);
    }
    int id = s->next_id++;
    std::string line = "{\"id\":" + std::to_string(id);
    std::string_view body = request;
    while (!body.empty() && body.front() != '{') {
        body.remove_prefix(1);
    }
    if (body.size() > 2) {
        line += ",";
        line += body.substr(1);
    } else {
        line += "}";
    }
    line += "\n";
    auto deadline = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
    if (auto st = m->write_all(*s, line, deadline, host); !st) {
        return fail(st.error().code() == Errc::io ? m->ended(*s, host) : st.error());
    }
    for (;;) {
        auto got = m->read_line(*s, deadline, host);
        if (!got) {
            if (got.error().code() == Errc::io) {
                return fail(m->ended(*s, host));
            }
            return fail(got.error());  // the session closes with s: the agent stops its work
        }
        auto doc = json::parse(*got, nullptr, false);
        if (doc.is_discarded() || !doc.is_object()) {
            return fail(Errc::io, m->who(host) + ": the agent sent a line that is not JSON: " +
                                      got->substr(0, 200));
        }
        if (doc.contains("event")) {
            if (on_event) {
                on_event(*got);
            }
            continue;
        }
        if (doc.value("id", -1) != id) {
            continue;  // a late reply to a request that timed out on an earlier session use
        }
        std::lock_guard g(hs.lock);
        hs.idle.push_back(std::move(s));
        return std::move(*got);
    }
}

}  // namespace shipshape::fleet
