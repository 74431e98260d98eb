#include "app/versions.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "app/facts_service.hpp"
#include "facts/facts_json.hpp"
#include "os/file_system.hpp"
#include "require/version.hpp"
#include "state/load.hpp"

namespace shipshape::app {

namespace {

// name -> version of the packages dpkg reports fully installed.
std::map<std::string, std::string> installed_versions(const std::vector<facts::Package>& list) {
    std::map<std::string, std::string> out;
    for (const auto& p : list) {
        if (p.status == "installed") {
            out[p.name] = p.version;
        }
    }
    return out;
}

}  // namespace

bool VersionsReport::agree() const {
    if (!hosts_without_facts.empty()) {
        return false;
    }
    return std::all_of(packages.begin(), packages.end(), [](const PackageVersions& p) {
        return p.lagging.empty() && p.missing.empty();
    });
}

Result<std::vector<std::string>> match_packages(const std::vector<HostPackages>& hosts,
                                                const std::string& pattern) {
    std::set<std::string> names;
    size_t known = 0;
    for (const auto& h : hosts) {
        if (!h.packages) {
            continue;
        }
        ++known;
        for (const auto& [name, version] : *h.packages) {
            if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) {
                names.insert(name);
            }
        }
    }
    if (names.empty() && known > 0) {
        bool glob = pattern.find_first_of("*?[") != std::string::npos;
        return fail(Errc::not_found,
                    std::string(glob ? "no installed package matches '" : "package '") + pattern +
                        (glob ? "'" : "' is not installed") + " on any of the " +
                        std::to_string(known) + " hosts whose packages are known");
    }
    if (names.empty()) {
        // No host's packages are known: the table says so for each host.
        return std::vector<std::string>{pattern};
    }
    return std::vector<std::string>(names.begin(), names.end());
}

VersionsReport tabulate_versions(const std::vector<HostPackages>& hosts,
                                 const std::vector<std::string>& names) {
    VersionsReport out;
    out.hosts = hosts.size();
    for (const auto& h : hosts) {
        if (!h.packages) {
            out.hosts_without_facts.push_back({h.host.name, h.error, h.error_code});
        }
    }
    for (const auto& name : names) {
        PackageVersions pv;
        pv.name = name;
        std::map<std::string, EnvVersions> by_env;
        for (const auto& h : hosts) {
            HostVersion hv;
            hv.host = h.host.name;
            hv.source = h.source;
            hv.snapshot_id = h.snapshot_id;
            hv.at_ms = h.at_ms;
            hv.error = h.error;
            if (h.packages) {
                auto it = h.packages->find(name);
                hv.version = it == h.packages->end() ? "" : it->second;
            }
            EnvVersions& ev = by_env[h.host.env];
            ev.env = h.host.env;
            if (!hv.version.empty() &&
                (ev.newest.empty() || require::compare_versions(hv.version, ev.newest) > 0)) {
                ev.newest = hv.version;
            }
            ev.hosts.push_back(std::move(hv));
        }
        std::vector<EnvVersions> ordered;
        for (auto& [env, ev] : by_env) {
            std::sort(ev.hosts.begin(), ev.hosts.end(),
                      [](const HostVersion& a, const HostVersion& b) {
                          return natural_less(a.host, b.host);
                      });
            for (auto& hv : ev.hosts) {
                if (!hv.error.empty() || ev.newest.empty()) {
                    continue;  // unknown, or no host of the environment has the package
                }
                if (hv.version.empty()) {
                    hv.missing = true;
                    pv.missing.push_back(hv.host);
                    continue;
                }
                hv.newest = require::compare_versions(hv.version, ev.newest) == 0;
                hv.lags = !hv.newest;
                if (hv.lags) {
                    pv.lagging.push_back(hv.host);
                }
            }
            ordered.push_back(std::move(ev));
        }
        // Environments in name order; hosts of no environment ("" sorts first) come last.
        if (!ordered.empty() && ordered.front().env.empty()) {
            std::rotate(ordered.begin(), ordered.begin() + 1, ordered.end());
        }
        pv.envs = std::move(ordered);
        for (auto* list : {&pv.lagging, &pv.missing}) {
            std::sort(list->begin(), list->end(), [](const std::string& a, const std::string& b) {
                return natural_less(a, b);
            });
        }
        out.packages.push_back(std::move(pv));
    }
    return out;
}

VersionsService::VersionsService(const Project& project, store::Store* store)
    : m_project(project), m_store(store) {}

Result<std::vector<SelectedHost>> VersionsService::hosts(const VersionsRequest& request) const {
    return select_hosts_or_all(m_project.inventory, request.patterns);
}

std::vector<std::string> VersionsService::declared_packages() const {
    std::set<std::string> names;
    std::set<std::string> files;
    for (const auto& [role, list] : m_project.config.roles) {
        files.insert(list.begin(), list.end());
    }
    for (const auto& file : files) {
        auto text = os::read_whole_file(m_project.root + "/" + file);
        if (!text) {
            continue;  // plan reports unreadable state files; here they declare nothing
        }
        Diagnostics diags;
        for (const auto& r : state::parse_state(*text, file, diags)) {
            if (r.kind != state::Kind::package) {
                continue;
            }
            if (!r.name.empty()) {
                names.insert(r.name);
            } else if (!r.deb.empty()) {
                // Debian's file name convention: NAME_VERSION_ARCH.deb.
                std::string base = r.deb.substr(r.deb.rfind('/') + 1);
                std::string name = base.substr(0, base.find('_'));
                if (name != base && state::package_name_rule(name).empty()) {
                    names.insert(name);
                }
            }
        }
    }
    return {names.begin(), names.end()};
}

Result<HostPackages> VersionsService::saved(const SelectedHost& host) {
    HostPackages hp;
    hp.host = host;
    hp.source = "saved";
    if (!m_store) {
        hp.error = "no store to read saved facts from";
        return hp;
    }
    auto snaps = m_store->list_facts(host.name, 1);
    if (!snaps) {
        return fail(snaps.error());
    }
    if (snaps->empty()) {
        hp.error = "no saved facts (shipshape facts " + host.name + " --save, or --live)";
        return hp;
    }
    auto snap = m_store->get_facts(snaps->front().id);
    if (!snap) {
        return fail(snap.error());
    }
    hp.snapshot_id = snap->id;
    hp.at_ms = snap->at;
    auto f = facts::from_json(snap->document);
    if (!f) {
        hp.error =
            "saved facts @" + std::to_string(snap->id) + " cannot be read: " + f.error().message();
        return hp;
    }
    hp.packages = installed_versions(f->packages);
    if (hp.packages->empty()) {
        hp.packages.reset();
        hp.error = "saved facts @" + std::to_string(snap->id) + " hold no packages";
    }
    return hp;
}

Result<VersionsReport> VersionsService::run(const VersionsRequest& request,
                                            const std::vector<SelectedHost>& hosts) {
    std::vector<std::string> names;
    if (request.package.empty()) {
        names = declared_packages();
        if (names.empty()) {
            return fail(Errc::invalid_argument,
                        "the state files of shipshape.toml's [roles] declare no [[package]]: name "
                        "one (shipshape versions PACKAGE [HOSTS])");
        }
    }
    std::vector<HostPackages> known;
    if (request.live) {
        FactsService facts(m_project, m_store);
        facts.use_fleet(m_fleet, m_progress);
        for (auto& r : facts.gather(hosts, {"packages"}, false)) {
            HostPackages hp;
            hp.host = r.host;
            hp.source = "live";
            if (r.facts) {
                hp.packages = installed_versions(r.facts->packages);
            } else {
                hp.error = r.error ? r.error->message() : "no facts";
                hp.error_code = r.error ? r.error->code() : Errc::unreachable;
            }
            known.push_back(std::move(hp));
        }
    } else {
        for (const auto& h : hosts) {
            auto hp = saved(h);
            if (!hp) {
                return fail(hp.error());
            }
            known.push_back(std::move(*hp));
        }
    }
    if (!request.package.empty()) {
        auto matched = match_packages(known, request.package);
        if (!matched) {
            return fail(matched.error());
        }
        names = std::move(*matched);
    }
    return tabulate_versions(known, names);
}

}  // namespace shipshape::app
