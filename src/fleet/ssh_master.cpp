#include "fleet/ssh_master.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/text.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"

namespace shipshape::fleet {

namespace {

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

long long whole_seconds(Millis d) {
    return std::max<long long>(1, (d.count() + 999) / 1000);
}

}  // namespace

std::string who(const Endpoint& e) {
    return e.name == e.address ? "host " + e.name : "host " + e.name + " (" + e.address + ")";
}

std::string reason_of(const std::string& text) {
    std::string out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = trim(std::string_view(text).substr(
            pos, nl == std::string::npos ? std::string::npos : nl - pos));
        pos = nl == std::string::npos ? text.size() : nl + 1;
        // Lines ssh prints that say nothing about the failure.
        if (line.empty() || line.rfind("Warning: Permanently added", 0) == 0) {
            continue;
        }
        out += (out.empty() ? "" : "; ") + std::string(line);
    }
    if (out.size() > 600) {
        out = "..." + out.substr(out.size() - 600);
    }
    return out.empty() ? "ssh gave no reason" : out;
}

SshMaster::SshMaster(SshOptions ssh, std::shared_ptr<os::ProcessRunner> runner,
                     const os::CancelSource* cancel)
    : m_ssh(std::move(ssh)), m_runner(std::move(runner)), m_cancel(cancel) {}

Result<std::string> SshMaster::control_dir() {
    std::lock_guard g(m_lock);
    if (m_dir) {
        return *m_dir;
    }
    std::string d = m_ssh.control_dir;
    if (d.empty()) {
        const char* xdg = std::getenv("XDG_RUNTIME_DIR");
        d = xdg && *xdg ? std::string(xdg) + "/shipshape-ssh"
                        : "/tmp/shipshape-ssh-" + std::to_string(::getuid());
    }
    struct stat st {};
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
        m_dir = fail(os::errno_error("creating " + d, errno));
    } else if (::lstat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() ||
               (st.st_mode & 077) != 0) {
        m_dir = fail(Errc::permission_denied,
                     d + " must be a directory owned by you with mode 0700 (it holds ssh "
                         "control sockets); remove it and try again");
    } else {
        m_dir = d;
    }
    return *m_dir;
}

Result<std::string> SshMaster::control_path(const Endpoint& e) {
    auto d = control_dir();
    if (!d) {
        return fail(d.error());
    }
    std::string key = e.user + "@" + e.address + ":" + std::to_string(e.port) + "|" + m_ssh.config +
                      "|" + m_ssh.identity + "|" + m_ssh.known_hosts;
    for (const auto& o : m_ssh.options) {
        key += "|" + o;
    }
    return *d + "/" + hex64(XXH3_64bits(key.data(), key.size()));
}

std::vector<std::string> SshMaster::base_argv(const std::string& control, const Endpoint& e) const {
    std::vector<std::string> a = {"ssh"};
    if (!m_ssh.config.empty()) {
        a.insert(a.end(), {"-F", m_ssh.config});
    }
    if (!m_ssh.identity.empty()) {
        a.insert(a.end(), {"-i", m_ssh.identity});
    }
    a.insert(a.end(), {"-o", "BatchMode=yes", "-o",
                       "ConnectTimeout=" + std::to_string(whole_seconds(m_ssh.connect_timeout)),
                       "-o", "ControlPath=" + control});
    if (m_ssh.known_hosts == "strict") {
        a.insert(a.end(), {"-o", "StrictHostKeyChecking=yes"});
    } else if (m_ssh.known_hosts == "accept-new") {
        a.insert(a.end(), {"-o", "StrictHostKeyChecking=accept-new"});
    } else if (m_ssh.known_hosts == "off") {
        a.insert(a.end(), {"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"});
    }
    for (const auto& o : m_ssh.options) {
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

Error SshMaster::missing_ssh(const Error& error) const {
    if (error.code() != Errc::not_found) {
        return error;
    }
    return Error(Errc::unsupported,
                 "'ssh' not found: the fleet transport needs the OpenSSH client (Debian: apt "
                 "install openssh-client)");
}

Result<std::unique_ptr<os::Child>> SshMaster::spawn(const os::ProcessSpec& spec) {
    auto child = m_runner->start(spec);
    if (!child) {
        return fail(missing_ssh(child.error()));
    }
    return child;
}

bool SshMaster::master_alive(const Endpoint& e) {
    auto path = control_path(e);
    return path && socket_alive(*path);
}

Status SshMaster::ensure_master(const Endpoint& e) {
    auto path = control_path(e);
    if (!path) {
        return fail(path.error());
    }
    std::mutex* connecting = nullptr;
    {
        std::lock_guard g(m_lock);
        auto& m = m_connecting[*path];
        if (!m) {
            m = std::make_unique<std::mutex>();
        }
        connecting = m.get();
    }
    std::lock_guard g(*connecting);
    if (socket_alive(*path)) {
        return {};
    }
    ::unlink(path->c_str());
    std::string log = *path + ".log";
    if (int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600); fd >= 0) {
        ::close(fd);
    }
    os::ProcessSpec spec;
    spec.argv = base_argv(*path, e);
    spec.argv.insert(
        spec.argv.end(),
        {"-M", "-N", "-f", "-o", "ControlMaster=yes", "-o",
         "ControlPersist=" + std::to_string(whole_seconds(m_ssh.persist)), "-o",
         "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-E", log, "--", e.address});
    spec.output = os::Output::null;
    spec.errors = os::Stderr::null;
    auto child = spawn(spec);
    if (!child) {
        return fail(child.error());
    }
    // ssh's own ConnectTimeout bounds the TCP connect; this guard only catches a handshake
    // that never ends, so it leaves room for authentication on a busy machine (50 hosts
    // receiving the agent at once on two cores take seconds per handshake).
    const Millis guard = m_ssh.connect_timeout + std::chrono::seconds(60);
    auto outcome = (*child)->wait(guard, m_cancel);
    if (outcome.kind == os::ExitKind::cancelled) {
        return fail(Errc::interrupted, who(e) + ": interrupted while connecting");
    }
    if (outcome.kind == os::ExitKind::timed_out) {
        return fail(Errc::unreachable,
                    who(e) + ": unreachable: no ssh connection within " + format_duration(guard));
    }
    if (!outcome.success()) {
        auto text = os::read_whole_file(log);
        return fail(Errc::unreachable,
                    who(e) + ": unreachable: " + reason_of(text ? *text : std::string()));
    }
    return {};
}

Result<os::ProcessSpec> SshMaster::command_spec(const Endpoint& e,
                                                const std::string& remote_command) {
    auto path = control_path(e);
    if (!path) {
        return fail(path.error());
    }
    os::ProcessSpec spec;
    spec.argv = base_argv(*path, e);
    spec.argv.insert(spec.argv.end(),
                     {"-o", "ControlMaster=no", "-T", "--", e.address, remote_command});
    spec.errors = os::Stderr::separate;
    return spec;
}

Result<std::unique_ptr<os::Child>> SshMaster::start(const Endpoint& e,
                                                    const std::string& remote_command,
                                                    os::Input input, int input_fd) {
    auto spec = command_spec(e, remote_command);
    if (!spec) {
        return fail(spec.error());
    }
    spec->input = input;
    spec->input_fd = input_fd;
    return spawn(*spec);
}

Result<os::ProcessOutcome> SshMaster::run(const Endpoint& e, const std::string& remote_command,
                                          Millis timeout, os::OutputSink& sink) {
    auto spec = command_spec(e, remote_command);
    if (!spec) {
        return fail(spec.error());
    }
    spec->timeout = timeout;
    auto outcome = m_runner->run(*spec, sink, m_cancel);
    if (!outcome) {
        return fail(missing_ssh(outcome.error()));
    }
    return outcome;
}

Result<bool> SshMaster::disconnect(const Endpoint& e) {
    auto path = control_path(e);
    if (!path) {
        return fail(path.error());
    }
    bool alive = socket_alive(*path);
    if (alive) {
        os::ProcessSpec spec;
        spec.argv = base_argv(*path, e);
        spec.argv.insert(spec.argv.end(), {"-O", "exit", "--", e.address});
        spec.errors = os::Stderr::separate;
        os::CollectSink said;
        auto r = m_runner->run(spec, said, nullptr);
        if (!r) {
            return fail(r.error());
        }
        // A master that went away on its own in the meantime is as good as stopped.
        if (!r->success() && socket_alive(*path)) {
            return fail(Errc::io, who(e) + ": closing the ssh connection failed: " +
                                      reason_of(said.err + said.out));
        }
    }
    ::unlink(path->c_str());
    ::unlink((*path + ".log").c_str());
    return alive;
}

}  // namespace shipshape::fleet
