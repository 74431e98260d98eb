#include "app/fleet_service.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "facts/collect.hpp"
#include "facts/facts_json.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"

extern char** environ;

namespace shipshape::app {

namespace {

using json = nlohmann::json;

std::string base64(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()),
                            static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(std::max(n, 0)));
    return out;
}

std::optional<std::string> unbase64(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    std::string out(3 * (text.size() / 4), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
    if (n < 0) {
        return std::nullopt;
    }
    size_t pad = 0;
    for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) {
        ++pad;
    }
    out.resize(static_cast<size_t>(n) - std::min<size_t>(pad, static_cast<size_t>(n)));
    return out;
}

std::string error_reply(Errc code, const std::string& message) {
    return json{{"ok", false}, {"error", {{"code", errc_name(code)}, {"message", message}}}}.dump();
}

Error reply_error(const json& reply) {
    const auto& e = reply.contains("error") ? reply["error"] : json::object();
    auto code = parse_errc_name(e.value("code", "io")).value_or(Errc::io);
    return Error(code, e.value("message", "the agent refused the request"));
}

// Parses a reply line; an "ok": false reply becomes its error.
Result<json> parse_reply(const std::string& line) {
    auto doc = json::parse(line, nullptr, false);
    if (doc.is_discarded()) {
        return fail(Errc::io, "the agent's reply is not JSON");
    }
    if (!doc.value("ok", false)) {
        return fail(reply_error(doc));
    }
    return doc;
}

}  // namespace

Tally::Tally(std::string what, size_t total, ProgressFn fn) : m_fn(std::move(fn)) {
    m_counts.what = std::move(what);
    m_counts.total = total;
}

void Tally::started() {
    std::lock_guard g(m_lock);
    ++m_counts.running;
    if (m_fn) {
        m_fn(m_counts);
    }
}

void Tally::finished(bool ok) {
    std::lock_guard g(m_lock);
    --m_counts.running;
    ++m_counts.done;
    if (!ok) {
        ++m_counts.failed;
    }
    if (m_fn) {
        m_fn(m_counts);
    }
}

Result<std::unique_ptr<FleetService>> FleetService::create(const Project& project,
                                                           const os::CancelSource* cancel,
                                                           const std::string& version) {
    const auto& s = project.inventory.ssh;
    fleet::SshOptions o;
    auto path = [&](const std::string& p) {
        return p.empty() ? p : os::path_absolute(p, project.root);
    };
    o.config = path(s.config);
    o.identity = path(s.identity);
    o.options = s.options;
    o.known_hosts = s.known_hosts;
    auto ct = parse_duration(s.connect_timeout);
    auto persist = parse_duration(s.persist);
    auto timeout = parse_duration(s.timeout);
    if (!ct || !persist || !timeout) {
        return fail(Errc::invalid_argument, "inventory.toml [ssh]: a duration is malformed");
    }
    o.connect_timeout = *ct;
    o.persist = *persist;
    auto self = fleet::this_binary(version);
    if (!self) {
        return fail(self.error());
    }
    auto f = std::make_unique<fleet::Fleet>(std::move(o), std::move(*self), cancel);
    return std::unique_ptr<FleetService>(
        new FleetService(project, std::move(f), *timeout, s.forks));
}

FleetService::FleetService(const Project& project, std::unique_ptr<fleet::Fleet> fleet,
                           Millis timeout, int forks)
    : m_project(project), m_fleet(std::move(fleet)), m_timeout(timeout), m_forks(forks) {}

fleet::Endpoint FleetService::endpoint(const SelectedHost& host) const {
    return fleet::Endpoint{host.name, host.address, host.user, host.port};
}

int FleetService::forks(size_t hosts) const {
    return m_forks > 0 ? m_forks : fleet::default_forks(hosts);
}

Result<facts::HostFacts> FleetService::facts(const SelectedHost& host,
                                             const std::vector<std::string>& sections) {
    auto reply = m_fleet->call(endpoint(host), json{{"op", "facts"}, {"sections", sections}}.dump(),
                               m_timeout);
    if (!reply) {
        return fail(reply.error());
    }
    auto doc = parse_reply(*reply);
    if (!doc) {
        return fail(doc.error());
    }
    auto f = facts::from_json((*doc)["facts"].dump());
    if (!f) {
        return fail(f.error().context("facts from host " + host.name));
    }
    f->host = host.name;
    return f;
}

Result<os::ProcessOutcome> FleetService::exec(
    const SelectedHost& host, const RemoteExec& request,
    const std::function<void(std::string_view)>& on_output) {
    json req = {{"op", "exec"},
                {"argv", request.argv},
                {"env", request.env},
                {"cwd", request.cwd},
                {"timeout_ms", request.timeout.count()}};
    // The agent enforces the command's own timeout; ours only guards against a silent agent.
    Millis guard =
        request.timeout.count() > 0 ? request.timeout + std::chrono::seconds(30) : m_timeout;
    auto reply = m_fleet->call(endpoint(host), req.dump(), guard, [&](std::string_view line) {
        if (!on_output) {
            return;
        }
        auto ev = json::parse(line, nullptr, false);
        if (!ev.is_discarded() && ev.value("event", "") == "output") {
            on_output(ev.value("data", ""));
        }
    });
    if (!reply) {
        return fail(reply.error());
    }
    auto doc = parse_reply(*reply);
    if (!doc) {
        return fail(doc.error());
    }
    os::ProcessOutcome o;
    o.kind = os::parse_exit_kind(doc->value("exit", "")).value_or(os::ExitKind::exited);
    o.code = doc->value("code", -1);
    o.elapsed = Millis(doc->value("elapsed_ms", 0LL));
    return o;
}

Result<os::ProcessOutcome> FleetService::run_direct(
    const SelectedHost& host, const std::vector<std::string>& argv,
    const std::function<void(std::string_view)>& on_output) {
    std::string line = "exec";
    for (const auto& a : argv) {
        line += " " + fleet::shell_quote(a);
    }
    auto started = std::chrono::steady_clock::now();
    auto code = m_fleet->run(endpoint(host), line, m_timeout, on_output);
    if (!code) {
        return fail(code.error());
    }
    return os::ProcessOutcome{
        os::ExitKind::exited, *code,
        std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started)};
}

Result<const std::string*> FleetService::bundle() {
    std::lock_guard g(m_bundle_lock);
    if (m_bundle_built) {
        if (m_bundle_error) {
            return fail(*m_bundle_error);
        }
        return &m_bundle_request;
    }
    m_bundle_built = true;
    namespace fs = std::filesystem;
    std::vector<std::pair<std::string, fs::path>> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(m_project.root, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (it->is_directory() && (name == ".shipshape" || name == ".git")) {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file() && !it->is_symlink()) {
            files.emplace_back(fs::relative(it->path(), m_project.root).string(), it->path());
        }
    }
    if (ec) {
        m_bundle_error =
            Error(Errc::io, "reading the ops repo " + m_project.root + ": " + ec.message());
        return fail(*m_bundle_error);
    }
    std::sort(files.begin(), files.end());
    json list = json::array();
    XXH3_state_t* st = XXH3_createState();
    XXH3_64bits_reset(st);
    size_t total = 0;
    auto local = os::make_local_file_system();
    for (const auto& [rel, full] : files) {
        auto text = local->read_file(full.string());
        if (!text) {
            m_bundle_error = text.error();
            XXH3_freeState(st);
            return fail(*m_bundle_error);
        }
        total += text->size();
        if (total > (256u << 20)) {
            m_bundle_error = Error(Errc::invalid_argument,
                                   "the ops repo holds more than 256 MiB of files: too much to "
                                   "send to every host (keep large artifacts out of it)");
            XXH3_freeState(st);
            return fail(*m_bundle_error);
        }
        struct stat sb {};
        ::stat(full.c_str(), &sb);
        int mode = static_cast<int>(sb.st_mode & 0777);
        XXH3_64bits_update(st, rel.data(), rel.size() + 1);
        XXH3_64bits_update(st, &mode, sizeof mode);
        XXH3_64bits_update(st, text->data(), text->size());
        list.push_back({{"path", rel}, {"mode", mode}, {"data", base64(*text)}});
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(XXH3_64bits_digest(st)));
    XXH3_freeState(st);
    m_bundle_hash = hex;
    m_bundle_request = json{{"op", "bundle"}, {"hash", m_bundle_hash}, {"files", list}}.dump();
    return &m_bundle_request;
}

Result<RemoteShipshape> FleetService::shipshape(const SelectedHost& host,
                                                const std::vector<std::string>& args) {
    auto b = bundle();
    if (!b) {
        return fail(b.error());
    }
    auto ep = endpoint(host);
    json req = {{"op", "shipshape"}, {"bundle", m_bundle_hash}, {"args", args}};
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto reply = m_fleet->call(ep, req.dump(), m_timeout);
        if (!reply) {
            return fail(reply.error());
        }
        auto doc = json::parse(*reply, nullptr, false);
        if (!doc.is_discarded() && !doc.value("ok", false) && doc.value("need", "") == "bundle") {
            auto sent = m_fleet->call(ep, **b, m_timeout);
            if (!sent) {
                return fail(sent.error());
            }
            if (auto r = parse_reply(*sent); !r) {
                return fail(r.error().context("sending the ops repo to " + host.name));
            }
            continue;
        }
        auto ok = parse_reply(*reply);
        if (!ok) {
            return fail(ok.error());
        }
        return RemoteShipshape{doc.value("code", -1), doc.value("stdout", ""),
                               doc.value("stderr", "")};
    }
    return fail(Errc::io, host.name + ": the agent keeps asking for the ops repo");
}

// ---- the agent ---------------------------------------------------------------------------

namespace {

class Agent {
  public:
    Agent(int in, int out, const fleet::AgentBinary& self) : m_in(in), m_out(out), m_self(self) {
        const char* home = std::getenv("HOME");
        m_cache = std::string(home && *home ? home : "/tmp") + "/.cache/shipshape";
    }

    int serve() {
        send(json{{"agent", "shipshape"},
                  {"version", m_self.version},
                  {"hash", m_self.hash},
                  {"pid", ::getpid()}}
                 .dump());
        std::string line;
        while (read_line(line)) {
            auto req = json::parse(line, nullptr, false);
            if (req.is_discarded() || !req.is_object()) {
                send(error_reply(Errc::invalid_argument, "a request is one JSON object per line"));
                continue;
            }
            json id = req.value("id", json(nullptr));
            std::string reply = handle(req, id);
            auto doc = json::parse(reply);
            doc["id"] = id;
            send(doc.dump());
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

    std::string handle(const json& req, const json& id) {
        std::string op = req.value("op", "");
        try {
            if (op == "facts") {
                facts::GatherOptions o;
                o.sections = req.value("sections", std::vector<std::string>{});
                auto f = facts::gather_facts(o);
                return json{{"ok", true}, {"facts", json::parse(facts::to_json(f, o.sections, -1))}}
                    .dump();
            }
            if (op == "exec") {
                return exec(req, id);
            }
            if (op == "bundle") {
                return store_bundle(req);
            }
            if (op == "shipshape") {
                return run_self(req);
            }
        } catch (const json::exception& e) {
            return error_reply(Errc::invalid_argument,
                               "malformed '" + op + "' request: " + e.what());
        }
        return error_reply(Errc::invalid_argument,
                           "unknown op '" + op + "' (known: facts, exec, bundle, shipshape)");
    }

    std::string exec(const json& req, const json& id) {
        os::ProcessSpec spec;
        spec.argv = req.at("argv").get<std::vector<std::string>>();
        std::vector<std::string> env;
        auto extra = req.value("env", std::vector<std::string>{});
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
        std::string cwd = req.value("cwd", "");
        const char* home = std::getenv("HOME");
        spec.cwd = cwd.empty() ? std::string(home ? home : "/") : cwd;
        spec.timeout = Millis(req.value("timeout_ms", 0LL));
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
            const json& id;
            Sink(Agent& a, const json& i) : agent(a), id(i) {}
            void on_output(std::string_view chunk) override {
                json ev = {{"id", id}, {"event", "output"}, {"data", std::string(chunk)}};
                agent.send(ev.dump(-1, ' ', false, json::error_handler_t::replace));
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
        return json{{"ok", true},
                    {"exit", os::exit_kind_name(outcome->kind)},
                    {"code", outcome->code},
                    {"elapsed_ms", outcome->elapsed.count()}}
            .dump();
    }

    std::string bundle_dir(const std::string& hash) const { return m_cache + "/repo/" + hash; }

    static bool valid_hash(const std::string& h) {
        return !h.empty() && h.size() <= 64 &&
               h.find_first_not_of("0123456789abcdef") == std::string::npos;
    }

    std::string store_bundle(const json& req) {
        std::string hash = req.at("hash").get<std::string>();
        if (!valid_hash(hash)) {
            return error_reply(Errc::invalid_argument, "bundle hash must be hex digits");
        }
        std::string tmp = m_cache + "/repo/.tmp-" + std::to_string(::getpid());
        std::error_code ec;
        std::filesystem::remove_all(tmp, ec);
        auto fs = os::make_local_file_system();
        for (const auto& f : req.at("files")) {
            std::string rel = f.at("path").get<std::string>();
            if (rel.empty() || rel.front() == '/' || rel.find("..") != std::string::npos) {
                return error_reply(Errc::invalid_argument, "bundle path '" + rel + "' escapes");
            }
            auto data = unbase64(f.at("data").get<std::string>());
            if (!data) {
                return error_reply(Errc::invalid_argument, "bundle file '" + rel + "': bad base64");
            }
            std::string full = tmp + "/" + rel;
            if (auto st = fs->create_directories(full.substr(0, full.rfind('/'))); !st) {
                return error_reply(st.error().code(), st.error().message());
            }
            os::WriteOptions wo;
            wo.mode = f.value("mode", 0644u);
            if (auto st = fs->write_file_atomic(full, *data, wo); !st) {
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
        return json{{"ok", true}}.dump();
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

    std::string run_self(const json& req) {
        std::string hash = req.at("bundle").get<std::string>();
        if (!valid_hash(hash)) {
            return error_reply(Errc::invalid_argument, "bundle hash must be hex digits");
        }
        std::string dir = bundle_dir(hash);
        struct stat st {};
        if (::stat((dir + "/shipshape.toml").c_str(), &st) != 0) {
            return json{{"ok", false},
                        {"need", "bundle"},
                        {"error", {{"code", "not_found"}, {"message", "no copy of the ops repo"}}}}
                .dump();
        }
        std::vector<std::string> argv = {m_self.path, "-C", dir};
        auto args = req.at("args").get<std::vector<std::string>>();
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = capture(argv);
        if (!r) {
            return error_reply(r.error().code(), r.error().message());
        }
        return json{{"ok", true}, {"code", r->code}, {"stdout", r->out}, {"stderr", r->err}}.dump(
            -1, ' ', false, json::error_handler_t::replace);
    }

    // Runs argv with stdout and stderr captured apart; stdin is /dev/null.
    static Result<RemoteShipshape> capture(const std::vector<std::string>& argv) {
        int out[2];
        int err[2];
        if (::pipe2(out, O_CLOEXEC) != 0) {
            return fail(os::errno_error("pipe", errno));
        }
        if (::pipe2(err, O_CLOEXEC) != 0) {
            ::close(out[0]);
            ::close(out[1]);
            return fail(os::errno_error("pipe", errno));
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        std::vector<char*> args;
        args.reserve(argv.size() + 1);
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        pid_t pid = -1;
        int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        ::close(err[1]);
        RemoteShipshape r;
        if (rc != 0) {
            ::close(out[0]);
            ::close(err[0]);
            return fail(os::errno_error("starting " + argv[0], rc));
        }
        pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
        std::string* dest[2] = {&r.out, &r.err};
        while (p[0].fd >= 0 || p[1].fd >= 0) {
            if (::poll(p, 2, -1) < 0) {
                if (errno == EINTR) {
                    continue;
                }
                break;
            }
            for (int i = 0; i < 2; ++i) {
                if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                    char buf[65536];
                    ssize_t n = ::read(p[i].fd, buf, sizeof buf);
                    if (n > 0) {
                        dest[i]->append(buf, static_cast<size_t>(n));
                    } else if (n == 0 || errno != EINTR) {
                        ::close(p[i].fd);
                        p[i].fd = -1;
                    }
                }
            }
        }
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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

int serve_agent(int in_fd, int out_fd, const fleet::AgentBinary& self) {
    ::signal(SIGPIPE, SIG_IGN);
    Agent agent(in_fd, out_fd, self);
    return agent.serve();
}

}  // namespace shipshape::app
