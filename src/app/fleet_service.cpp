#include "app/fleet_service.hpp"

#include <sys/stat.h>
#include <xxhash.h>

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "core/clock.hpp"
#include "core/text.hpp"
#include "facts/facts_json.hpp"
#include "os/file_system.hpp"

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
        line += " " + shell_quote(a);
    }
    const Clock& clock = system_clock();
    auto started = clock.monotonic();
    auto code = m_fleet->run(endpoint(host), line, m_timeout, on_output);
    if (!code) {
        return fail(code.error());
    }
    return os::ProcessOutcome{os::ExitKind::exited, *code,
                              std::chrono::duration_cast<Millis>(clock.monotonic() - started)};
}

Result<bool> FleetService::disconnect(const SelectedHost& host) {
    return m_fleet->disconnect(endpoint(host));
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
    m_bundle_hash = hex64(XXH3_64bits_digest(st));
    XXH3_freeState(st);
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

}  // namespace shipshape::app
