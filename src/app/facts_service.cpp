#include "app/facts_service.hpp"

#include <algorithm>

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "core/assert.hpp"
#include "core/text.hpp"
#include "facts/collect.hpp"
#include "facts/facts_json.hpp"
#include "os/fan_out.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

std::string content_hash(std::string_view text) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return hex64(h);
}

FactsService::FactsService(const Project& project, store::Store* store)
    : m_project(project), m_store(store) {}

Result<facts::HostFacts> FactsService::gather_one(const SelectedHost& host,
                                                  const std::vector<std::string>& sections) {
    if (!host.local) {
        if (!m_fleet) {
            return fail(Errc::unsupported, "host '" + host.name + "' (" + host.address +
                                               ") is remote and no ssh transport is set up");
        }
        return m_fleet->facts(host, sections);
    }
    facts::GatherOptions options;
    options.sections = sections;
    auto f = facts::gather_facts(options);
    f.host = host.name;
    return f;
}

std::vector<HostFactsResult> FactsService::gather(const std::vector<SelectedHost>& hosts,
                                                  const std::vector<std::string>& sections,
                                                  bool save) {
    std::vector<HostFactsResult> out(hosts.size());
    std::vector<std::optional<Result<facts::HostFacts>>> gathered(hosts.size());
    Tally tally("facts", hosts.size(), m_progress);
    os::fan_out(hosts.size(), m_fleet ? m_fleet->forks(hosts.size()) : 1, [&](size_t i) {
        tally.started();
        gathered[i] = gather_one(hosts[i], sections);
        tally.finished(gathered[i]->has_value());
    });
    // The store is written from this thread only.
    for (size_t i = 0; i < hosts.size(); ++i) {
        const auto& h = hosts[i];
        HostFactsResult& r = out[i];
        r.host = h;
        auto& f = *gathered[i];
        if (!f) {
            r.error = f.error();
        } else {
            if (save) {
                std::string doc = facts::to_json(*f, sections, -1);
                SHIPSHAPE_ASSERT(m_store != nullptr);
                auto id = m_store->save_facts(
                    store::FactsSnapshot{0, h.name, f->collected_at, content_hash(doc), doc});
                if (id) {
                    r.snapshot_id = *id;
                } else {
                    r.error = id.error();
                }
            }
            r.facts = std::move(*f);
        }
    }
    return out;
}

Result<int64_t> FactsService::import(const std::string& host, const std::string& document) {
    auto hosts = all_hosts(m_project.inventory);
    bool known = std::any_of(hosts.begin(), hosts.end(),
                             [&](const SelectedHost& h) { return h.name == host; });
    if (!known) {
        return fail(Errc::invalid_argument,
                    "no host '" + host + "' in inventory.toml (see 'shipshape hosts')");
    }
    auto parsed = facts::from_json(document);
    if (!parsed) {
        return fail(parsed.error().context("facts document"));
    }
    parsed->host = host;
    std::string doc = facts::to_json(*parsed, {}, -1);
    SHIPSHAPE_ASSERT(m_store != nullptr);
    return m_store->save_facts(
        store::FactsSnapshot{0, host, parsed->collected_at, content_hash(doc), doc});
}

Result<facts::HostFacts> FactsService::resolve(const std::string& ref) {
    if (!ref.empty() && ref[0] == '@') {
        char* end = nullptr;
        long long id = std::strtoll(ref.c_str() + 1, &end, 10);
        if (!end || *end != '\0' || id <= 0) {
            return fail(Errc::invalid_argument, "'" + ref + "': a snapshot is @ID, e.g. @3");
        }
        SHIPSHAPE_ASSERT(m_store != nullptr);
        auto snap = m_store->get_facts(id);
        if (!snap) {
            return fail(snap.error());
        }
        return facts::from_json(snap->document);
    }
    auto hosts = select_hosts(m_project.inventory, {ref});
    if (!hosts) {
        return fail(hosts.error());
    }
    if (hosts->size() != 1) {
        return fail(Errc::invalid_argument,
                    "'" + ref + "' names " + std::to_string(hosts->size()) + " hosts; name one");
    }
    return gather_one(hosts->front(), {});
}

Result<std::vector<store::FactsSnapshot>> FactsService::snapshots(const std::string& host) {
    SHIPSHAPE_ASSERT(m_store != nullptr);
    return m_store->list_facts(host, 100);
}

Result<require::Requirements> FactsService::load_requirements(const std::string& path) const {
    std::string full = os::path_absolute(path, m_project.root);
    auto text = os::read_whole_file(full);
    if (!text) {
        if (text.error().code() == Errc::not_found) {
            return fail(Errc::not_found, "no requirements file '" + full +
                                             "': developers write their software's needs there "
                                             "(see docs/manual.md, \"requirements.toml\")");
        }
        return fail(text.error());
    }
    return require::parse_requirements(*text, path);
}

}  // namespace shipshape::app
