#include "app/fleet_service.hpp"

#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <filesystem>

#include "core/clock.hpp"
#include "core/text.hpp"
#include "facts/facts_json.hpp"
#include "fleet/protocol.hpp"
#include "os/fan_out.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

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
    auto agent = fleet::agent_binary(version);
    fleet::AgentBinary copied;
    if (agent) {
        copied = std::move(*agent);
    } else {
        copied.unavailable = agent.error();
    }
    auto f = std::make_unique<fleet::Fleet>(std::move(o), std::move(copied), cancel);
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
    return m_forks > 0 ? m_forks : os::default_forks(hosts);
}

Result<facts::HostFacts> FleetService::facts(const SelectedHost& host,
                                             const std::vector<std::string>& sections) {
    auto reply = m_fleet->call(endpoint(host), facts_request(sections), m_timeout);
    if (!reply) {
        return fail(reply.error());
    }
    auto doc = facts_of_reply(*reply);
    if (!doc) {
        return fail(doc.error());
    }
    auto f = facts::from_json(*doc);
    if (!f) {
        return fail(f.error().context("facts from host " + host.name));
    }
    f->host = host.name;
    return f;
}

Result<os::ProcessOutcome> FleetService::exec(
    const SelectedHost& host, const RemoteExec& request,
    const std::function<void(std::string_view)>& on_output) {
    // The agent enforces the command's own timeout; ours only guards against a silent agent.
    Millis guard =
        request.timeout.count() > 0 ? request.timeout + std::chrono::seconds(30) : m_timeout;
    auto reply =
        m_fleet->call(endpoint(host), exec_request(request), guard, [&](std::string_view line) {
            if (!on_output) {
                return;
            }
            if (auto data = fleet::output_of_event(line)) {
                on_output(*data);
            }
        });
    if (!reply) {
        return fail(reply.error());
    }
    return outcome_of_reply(*reply);
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
    std::vector<BundleFile> list;
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
        list.push_back(BundleFile{rel, mode, std::move(*text)});
    }
    for (auto& extra :
         m_bundle_extras ? m_bundle_extras(m_project.root, list) : std::vector<BundleFile>{}) {
        XXH3_64bits_update(st, extra.path.data(), extra.path.size() + 1);
        XXH3_64bits_update(st, extra.data.data(), extra.data.size());
        list.push_back(std::move(extra));
    }
    m_bundle_hash = hex64(XXH3_64bits_digest(st));
    XXH3_freeState(st);
    m_bundle_request = bundle_request(m_bundle_hash, list);
    return &m_bundle_request;
}

Result<RemoteShipshape> FleetService::shipshape(const SelectedHost& host,
                                                const std::vector<std::string>& args) {
    auto b = bundle();
    if (!b) {
        return fail(b.error());
    }
    auto ep = endpoint(host);
    std::string req = shipshape_request(m_bundle_hash, args);
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto reply = m_fleet->call(ep, req, m_timeout);
        if (!reply) {
            return fail(reply.error());
        }
        if (needs_bundle(*reply)) {
            auto sent = m_fleet->call(ep, **b, m_timeout);
            if (!sent) {
                return fail(sent.error());
            }
            if (auto r = fleet::reply_result(*sent); !r) {
                return fail(r.error().context("sending the ops repo to " + host.name));
            }
            continue;
        }
        return shipshape_of_reply(*reply);
    }
    return fail(Errc::io, host.name + ": the agent keeps asking for the ops repo");
}

}  // namespace shipshape::app
