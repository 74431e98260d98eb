#include "fleet/fleet.hpp"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <semaphore>

#include "fleet/protocol.hpp"
#include "fleet/session.hpp"
#include "os/errno_error.hpp"

namespace shipshape::fleet {

namespace {

std::string local_arch() {
    struct utsname u {};
    ::uname(&u);
    return u.machine;
}

struct HostState {
    std::mutex lock;  // idle, stats
    std::vector<std::unique_ptr<Session>> idle;
    HostStats stats;
};

}  // namespace

struct Fleet::Impl {
    SshMaster ssh;
    AgentBinary agent;
    const os::CancelSource* cancel = nullptr;
    std::string arch = local_arch();
    mutable std::mutex lock;
    std::map<std::string, std::unique_ptr<HostState>> hosts;
    std::counting_semaphore<> uploads{4};

    Impl(SshOptions o, AgentBinary a, const os::CancelSource* c,
         std::shared_ptr<os::ProcessRunner> runner)
        : ssh(std::move(o), std::move(runner), c), agent(std::move(a)), cancel(c) {}

    HostState& host(const std::string& name) {
        std::lock_guard g(lock);
        auto& h = hosts[name];
        if (!h) {
            h = std::make_unique<HostState>();
        }
        return *h;
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
        auto agent_file = agent_name();
        if (!agent_file) {
            return fail(agent_file.error());
        }
        const std::string& name = *agent_file;
        std::string remote =
            "umask 022; d=\"$HOME/.cache/shipshape\"; mkdir -p \"$d\" && t=\"$d/.upload.$$\" && "
            "cat > \"$t\" && chmod 755 \"$t\" && mv -f \"$t\" \"$d/" +
            name + "\"; s=$?; rm -f \"$d/.upload.$$\"; exit $s";
        auto child = ssh.start(e, remote, os::Input::fd, fd);
        ::close(fd);
        if (!child) {
            return fail(child.error());
        }
        Session s(std::move(*child), e, cancel);
        // The remote side prints nothing on stdout; wait for the end while collecting stderr.
        auto deadline = deadline_after(std::chrono::minutes(5));
        if (auto st = s.drain(deadline); !st) {
            return fail(st.error());
        }
        int code = s.close(std::chrono::minutes(5));
        if (code != 0) {
            return fail(code == 255 ? Errc::unreachable : Errc::io,
                        who(e) + ": copying the agent failed: " + reason_of(s.stderr_text()));
        }
        return {};
    }

    // The agent's file name on hosts, hashing it on first use.
    Result<std::string> agent_name() {
        std::lock_guard g(lock);
        if (agent.unavailable) {
            return fail(*agent.unavailable);
        }
        if (agent.hash.empty()) {
            auto hash = agent_hash(agent.path);
            if (!hash) {
                agent.unavailable = hash.error();
                return fail(hash.error());
            }
            agent.hash = *hash;
        }
        return "shipshape-agent-" + agent.hash;
    }

    Result<std::unique_ptr<Session>> open_session(const Endpoint& e, HostState& hs) {
        auto agent_file = agent_name();
        if (!agent_file) {
            return fail(agent_file.error().context(who(e)));
        }
        const std::string& name = *agent_file;
        const std::string protocol = std::to_string(k_protocol_version);
        std::string remote = "a=\"$HOME/.cache/shipshape/" + name +
                             "\"; [ -x \"$a\" ] && exec \"$a\" agent --protocol " + protocol +
                             "; echo \"shipshape-need-agent $(uname -m)\"";
        bool copied = false;
        for (int attempt = 0; attempt < 3; ++attempt) {
            auto child = ssh.start(e, remote, os::Input::pipe);
            if (!child) {
                return fail(child.error());
            }
            auto s = std::make_unique<Session>(std::move(*child), e, cancel);
            auto line = s->read_line(
                deadline_after(ssh.options().connect_timeout + std::chrono::seconds(20)));
            if (!line) {
                if (line.error().code() == Errc::io) {
                    return fail(s->ended());
                }
                return fail(line.error());
            }
            const std::string need = "shipshape-need-agent";
            if (line->rfind(need, 0) == 0) {
                std::string theirs =
                    line->size() > need.size() + 1 ? line->substr(need.size() + 1) : std::string();
                s->close(std::chrono::seconds(5));
                if (theirs != arch) {
                    return fail(Errc::unsupported,
                                who(e) + " is " +
                                    (theirs.empty() ? "of unknown architecture" : theirs) +
                                    ", this shipshape is " + arch +
                                    ": the agent (shipshape-agent, built for " + arch +
                                    ") cannot run there; run a " + theirs +
                                    " build of shipshape as the controller for such hosts");
                }
                if (copied) {
                    return fail(Errc::io, who(e) + ": the agent is still missing after copying it");
                }
                if (auto st = upload(e); !st) {
                    return fail(st.error());
                }
                copied = true;
                std::lock_guard g(hs.lock);
                hs.stats.agent_installed = true;
                continue;
            }
            if (!is_greeting(*line)) {
                return fail(Errc::io, who(e) + ": expected the agent's greeting, got \"" +
                                          line->substr(0, 200) +
                                          "\" (does the login shell print something?)");
            }
            if (int theirs = greeting_protocol(*line); theirs != k_protocol_version) {
                // The file under this build's name is not this build's agent (a damaged or
                // replaced cache): copy ours over it once.
                s->close(std::chrono::seconds(5));
                if (copied) {
                    return fail(Errc::unsupported, who(e) + ": the agent there speaks protocol " +
                                                       std::to_string(theirs) +
                                                       ", this controller speaks " + protocol +
                                                       ", even after copying it again; remove " +
                                                       "~/.cache/shipshape on the host");
                }
                if (auto st = upload(e); !st) {
                    return fail(st.error());
                }
                copied = true;
                std::lock_guard g(hs.lock);
                hs.stats.agent_installed = true;
                hs.stats.agent_replaced = true;
                continue;
            }
            return s;
        }
        return fail(Errc::internal, "unreachable");
    }

    std::vector<std::unique_ptr<Session>> take_idle(HostState& hs) {
        std::lock_guard g(hs.lock);
        return std::move(hs.idle);
    }
};

Fleet::Fleet(SshOptions ssh, AgentBinary agent, const os::CancelSource* cancel,
             std::shared_ptr<os::ProcessRunner> runner)
    : m(std::make_unique<Impl>(
          std::move(ssh), std::move(agent), cancel,
          runner ? std::move(runner)
                 : std::shared_ptr<os::ProcessRunner>(os::make_process_runner()))) {}

Fleet::~Fleet() {
    // End every session at once: close all inputs first, then reap.
    std::vector<std::unique_ptr<Session>> all;
    for (auto& [name, hs] : m->hosts) {
        for (auto& s : hs->idle) {
            s->close_input();
            all.push_back(std::move(s));
        }
    }
    for (auto& s : all) {
        s->close(std::chrono::seconds(2));
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
    if (auto st = m->ssh.ensure_master(host); !st) {
        return fail(st.error());
    }
    struct Sink final : os::OutputSink {
        const std::function<void(std::string_view)>& fn;
        std::string err_tail;
        explicit Sink(const std::function<void(std::string_view)>& f) : fn(f) {}
        void on_output(std::string_view chunk) override {
            if (fn) {
                fn(chunk);
            }
        }
        void on_error_output(std::string_view chunk) override {
            on_output(chunk);
            err_tail.append(chunk);
            if (err_tail.size() > 4096) {
                err_tail.erase(0, err_tail.size() - 4096);
            }
        }
    } sink(on_output);
    auto outcome = m->ssh.run(host, remote_command, timeout, sink);
    if (!outcome) {
        return fail(outcome.error());
    }
    if (outcome->kind == os::ExitKind::cancelled) {
        return fail(Errc::interrupted, who(host) + ": interrupted");
    }
    if (outcome->kind == os::ExitKind::timed_out) {
        return fail(Errc::timeout, who(host) + ": the command did not finish in time");
    }
    int code = outcome->kind == os::ExitKind::exited ? outcome->code : -1;
    // ssh's own failure, unless the command itself exited 255 over a live connection.
    if (code == 255 && !m->ssh.master_alive(host)) {
        return fail(Errc::unreachable, who(host) + ": unreachable: " + reason_of(sink.err_tail));
    }
    return code;
}

Result<bool> Fleet::disconnect(const Endpoint& host) {
    for (auto& s : m->take_idle(m->host(host.name))) {
        s->close(std::chrono::seconds(2));
    }
    return m->ssh.disconnect(host);
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
        if (auto st = m->ssh.ensure_master(host); !st) {
            return fail(st.error());
        }
        auto opened = m->open_session(host, hs);
        if (!opened) {
            return fail(opened.error());
        }
        s = std::move(*opened);
    }
    long long id = s->next_id();
    auto deadline = deadline_after(timeout);
    if (auto st = s->write_all(request_line(id, request), deadline); !st) {
        return fail(st.error().code() == Errc::io ? s->ended() : st.error());
    }
    for (;;) {
        auto got = s->read_line(deadline);
        if (!got) {
            if (got.error().code() == Errc::io) {
                return fail(s->ended());
            }
            return fail(got.error());  // the session closes with s: the agent stops its work
        }
        Frame frame = read_frame(*got);
        if (frame.kind == FrameKind::not_json) {
            return fail(Errc::io, who(host) + ": the agent sent a line that is not JSON: " +
                                      got->substr(0, 200));
        }
        if (frame.kind == FrameKind::event) {
            if (on_event) {
                on_event(*got);
            }
            continue;
        }
        if (frame.id != id) {
            continue;  // a late reply to a request that timed out on an earlier session use
        }
        std::lock_guard g(hs.lock);
        hs.idle.push_back(std::move(s));
        return std::move(*got);
    }
}

}  // namespace shipshape::fleet
