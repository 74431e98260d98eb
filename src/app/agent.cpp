#include "app/agent.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "app/agent_protocol.hpp"
#include "facts/collect.hpp"
#include "facts/facts_json.hpp"
#include "fleet/protocol.hpp"
#include "os/file_system.hpp"
#include "os/process.hpp"
#include "package/installed.hpp"

extern char** environ;

namespace shipshape::app {

namespace {

std::string error_reply(Errc code, const std::string& message) {
    return fleet::error_reply(Error(code, message));
}

}  // namespace

namespace {

class Agent {
  public:
    Agent(int in, int out, const fleet::AgentBinary& self) : m_in(in), m_out(out), m_self(self) {
        const char* home = std::getenv("HOME");
        m_cache = std::string(home && *home ? home : "/tmp") + "/.cache/shipshape";
    }

    int serve(int protocol) {
        send(fleet::greeting_line(m_self, ::getpid()));
        if (protocol != 0 && protocol != fleet::k_protocol_version) {
            std::fprintf(stderr,
                         "shipshape-agent: this agent speaks protocol %d, the controller asked for "
                         "%d: the controller copies its own agent\n",
                         fleet::k_protocol_version, protocol);
            return 3;
        }
        std::string line;
        while (read_line(line)) {
            auto id = fleet::request_id(line);
            if (!id) {
                send(error_reply(Errc::invalid_argument, "a request is one JSON object per line"));
                continue;
            }
            auto req = parse_agent_request(line);
            send(fleet::reply_line(req ? handle(*req, *id) : fleet::error_reply(req.error()), *id));
        }
        return 0;
    }

  private:
    bool read_line(std::string& line) {
        for (;;) {
            size_t nl = m_buf.find('\n');
            if (nl != std::string::npos) {
                line = m_buf.substr(0, nl);
                m_buf.erase(0, nl + 1);
                return true;
            }
            char chunk[65536];
            ssize_t n = ::read(m_in, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return false;
            }
            m_buf.append(chunk, static_cast<size_t>(n));
        }
    }

    void send(const std::string& line) {
        std::lock_guard g(m_out_lock);
        std::string data = line + "\n";
        std::string_view rest = data;
        while (!rest.empty()) {
            ssize_t w = ::write(m_out, rest.data(), rest.size());
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                std::_Exit(1);  // the controller is gone
            }
            rest.remove_prefix(static_cast<size_t>(w));
        }
    }

    std::string handle(const AgentRequest& req, const std::string& id) {
        if (req.op == "facts") {
            facts::GatherOptions o;
            o.sections = req.sections;
            auto f = facts::gather_facts(o);
            return facts_reply(facts::to_json(f, o.sections, -1));
        }
        if (req.op == "exec") {
            return exec(req.exec, id);
        }
        if (req.op == "bundle") {
            return store_bundle(req);
        }
        if (req.op == "package-manifest") {
            auto m = package::read_installed(req.root, req.package);
            if (!m) {
                return fleet::error_reply(m.error());
            }
            return package_manifest_reply(package::manifest_to_json(*m));
        }
        return run_self(req);  // parse_agent_request knows no other op
    }

    std::string exec(const RemoteExec& req, const std::string& id) {
        os::ProcessSpec spec;
        spec.argv = req.argv;
        std::vector<std::string> env;
        const auto& extra = req.env;
        for (char** e = environ; e && *e; ++e) {
            std::string_view kv = *e;
            bool overridden = false;
            for (const auto& x : extra) {
                size_t eq = x.find('=');
                overridden =
                    overridden || (eq != std::string::npos &&
                                   kv.substr(0, eq + 1) == std::string_view(x).substr(0, eq + 1));
            }
            if (!overridden) {
                env.emplace_back(kv);
            }
        }
        env.insert(env.end(), extra.begin(), extra.end());
        spec.env = std::move(env);
        const char* home = std::getenv("HOME");
        spec.cwd = req.cwd.empty() ? std::string(home ? home : "/") : req.cwd;
        spec.timeout = req.timeout;
        auto cancel = os::CancelSource::create();
        if (!cancel) {
            return error_reply(cancel.error().code(), cancel.error().message());
        }
        // Anything on our input while a command runs (a cancel, or the end of the connection)
        // stops it: the controller is gone or gave up.
        int stop = ::eventfd(0, EFD_CLOEXEC);
        std::thread watcher([&] {
            pollfd p[2] = {{m_in, POLLIN, 0}, {stop, POLLIN, 0}};
            while (::poll(p, 2, -1) < 0 && errno == EINTR) {
            }
            if (!(p[1].revents & POLLIN)) {
                cancel->cancel();
            }
        });
        struct Sink final : os::OutputSink {
            Agent& agent;
            const std::string& id;
            Sink(Agent& a, const std::string& i) : agent(a), id(i) {}
            void on_output(std::string_view chunk) override {
                agent.send(fleet::output_event_line(id, chunk));
            }
        } sink(*this, id);
        auto outcome = os::make_process_runner()->run(spec, sink, &*cancel);
        uint64_t one = 1;
        (void)::write(stop, &one, sizeof one);
        watcher.join();
        ::close(stop);
        if (!outcome) {
            return error_reply(outcome.error().code(), outcome.error().message());
        }
        return exec_reply(*outcome);
    }

    std::string bundle_dir(const std::string& hash) const { return m_cache + "/repo/" + hash; }

    static bool valid_hash(const std::string& h) {
        return !h.empty() && h.size() <= 64 &&
               h.find_first_not_of("0123456789abcdef") == std::string::npos;
    }

    std::string store_bundle(const AgentRequest& req) {
        const std::string& hash = req.bundle;
        if (!valid_hash(hash)) {
            return error_reply(Errc::invalid_argument, "bundle hash must be hex digits");
        }
        std::string tmp = m_cache + "/repo/.tmp-" + std::to_string(::getpid());
        std::error_code ec;
        std::filesystem::remove_all(tmp, ec);
        auto fs = os::make_local_file_system();
        for (const auto& f : req.files) {
            const std::string& rel = f.path;
            if (rel.empty() || rel.front() == '/' || rel.find("..") != std::string::npos) {
                return error_reply(Errc::invalid_argument, "bundle path '" + rel + "' escapes");
            }
            std::string full = tmp + "/" + rel;
            if (auto st = fs->create_directories(full.substr(0, full.rfind('/'))); !st) {
                return error_reply(st.error().code(), st.error().message());
            }
            os::WriteOptions wo;
            wo.mode = static_cast<unsigned>(f.mode);
            if (auto st = fs->write_file_atomic(full, f.data, wo); !st) {
                return error_reply(st.error().code(), st.error().message());
            }
        }
        std::string dest = bundle_dir(hash);
        if (::rename(tmp.c_str(), dest.c_str()) != 0 && errno != ENOTEMPTY && errno != EEXIST) {
            return error_reply(Errc::io,
                               "storing the ops repo in " + dest + ": " + std::strerror(errno));
        }
        std::filesystem::remove_all(tmp, ec);
        prune_bundles(hash);
        return ok_reply();
    }

    // Keeps the newest few ops-repo copies.
    void prune_bundles(const std::string& keep) const {
        namespace fs = std::filesystem;
        std::vector<std::pair<fs::file_time_type, fs::path>> dirs;
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(m_cache + "/repo", ec)) {
            std::string name = e.path().filename().string();
            if (name != keep && valid_hash(name)) {
                dirs.emplace_back(e.last_write_time(ec), e.path());
            }
        }
        std::sort(dirs.rbegin(), dirs.rend());
        for (size_t i = 4; i < dirs.size(); ++i) {
            fs::remove_all(dirs[i].second, ec);
        }
    }

    std::string run_self(const AgentRequest& req) {
        const std::string& hash = req.bundle;
        if (!valid_hash(hash)) {
            return error_reply(Errc::invalid_argument, "bundle hash must be hex digits");
        }
        std::string dir = bundle_dir(hash);
        struct stat st {};
        if (::stat((dir + "/shipshape.toml").c_str(), &st) != 0) {
            return need_bundle_reply();
        }
        std::vector<std::string> argv = {m_self.path, "-C", dir};
        argv.insert(argv.end(), req.args.begin(), req.args.end());
        auto r = capture(argv);
        if (!r) {
            return error_reply(r.error().code(), r.error().message());
        }
        return shipshape_reply(*r);
    }

    // Runs argv with stdout and stderr captured apart; stdin is /dev/null. The code is the
    // exit status, or 128 + the signal that killed it.
    static Result<RemoteShipshape> capture(const std::vector<std::string>& argv) {
        os::ProcessSpec spec;
        spec.argv = argv;
        spec.errors = os::Stderr::separate;
        os::CollectSink sink;
        auto outcome = os::make_process_runner()->run(spec, sink, nullptr);
        if (!outcome) {
            return fail(outcome.error());
        }
        RemoteShipshape r;
        r.code = outcome->kind == os::ExitKind::signaled ? 128 + outcome->code : outcome->code;
        r.out = std::move(sink.out);
        r.err = std::move(sink.err);
        return r;
    }

    int m_in;
    int m_out;
    const fleet::AgentBinary& m_self;
    std::string m_cache;
    std::string m_buf;
    std::mutex m_out_lock;
};

}  // namespace

int serve_agent(int in_fd, int out_fd, const fleet::AgentBinary& self, int protocol) {
    ::signal(SIGPIPE, SIG_IGN);
    Agent agent(in_fd, out_fd, self);
    return agent.serve(protocol);
}

}  // namespace shipshape::app
