// The `versions` use case: which version of each package runs on each host, grouped by
// environment, from the facts the store saved last for each host (or gathered now, live). The
// newest version in each environment is found with Debian's ordering (require::compare_versions)
// and every host below it is marked as lagging.
//
// tabulate_versions is pure (hosts' package lists in, tables out) so it is tested without a store
// or a fleet; VersionsService reads the store or the fleet and calls it. Threading: one service
// per command, used from one thread (live gathering fans out inside FactsService).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/fleet_service.hpp"
#include "app/hosts.hpp"
#include "app/project.hpp"
#include "store/store.hpp"

namespace shipshape::app {

// What is known of one host's installed packages.
struct HostPackages {
    SelectedHost host;
    // installed package -> version; nullopt when no facts are known (see `error`).
    std::optional<std::map<std::string, std::string>> packages;
    std::string source;  // "saved" or "live"
    int64_t snapshot_id = 0;
    int64_t at_ms = 0;                  // when the facts were gathered (saved ones)
    std::string error;                  // why `packages` is missing
    Errc error_code = Errc::not_found;  // live gathering's error code (unreachable, ...)
};

struct HostVersion {
    std::string host;
    std::string version;   // "" when not installed (or unknown: see `error`)
    bool newest = false;   // the newest version of its environment
    bool lags = false;     // installed, older than its environment's newest
    bool missing = false;  // not installed while other hosts of its environment have it
    std::string source;    // "saved" or "live"
    int64_t snapshot_id = 0;
    int64_t at_ms = 0;
    std::string error;  // no facts for this host
};

struct EnvVersions {
    std::string env;                 // "" for hosts no environment lists
    std::string newest;              // "" when no host of the environment has the package
    std::vector<HostVersion> hosts;  // in natural order of host names
};

struct PackageVersions {
    std::string name;
    std::vector<EnvVersions> envs;     // in name order, "" last
    std::vector<std::string> lagging;  // hosts that lag, over all environments (natural order)
    std::vector<std::string> missing;  // hosts that miss it (see HostVersion::missing)
};

struct HostWithoutFacts {
    std::string host;
    std::string error;
    Errc code = Errc::not_found;  // not_found: no saved facts; else the live gather's error
};

struct VersionsReport {
    std::vector<PackageVersions> packages;              // in the order asked for
    std::vector<HostWithoutFacts> hosts_without_facts;  // in the order given
    size_t hosts = 0;

    // Every host of each environment runs the same version (none lags or misses the package),
    // and every host's packages are known.
    bool agree() const;
};

// The installed packages named `pattern` (a name, or a glob as fnmatch(3)) over the hosts whose
// packages are known, sorted. Errc::not_found when it names none though some host's packages
// are known; {pattern} when none is known (the table then shows each host unknown).
[[nodiscard]] Result<std::vector<std::string>> match_packages(
    const std::vector<HostPackages>& hosts, const std::string& pattern);

// Tables for `names` over `hosts` (pure).
VersionsReport tabulate_versions(const std::vector<HostPackages>& hosts,
                                 const std::vector<std::string>& names);

// The report as JSON for scripts (versions_json.cpp; keys in docs/manual.md, "versions").
std::string versions_to_json(const VersionsReport& report);

struct VersionsRequest {
    // A package name or a glob over installed package names ("lib*"); "": every package the
    // project's state files declare.
    std::string package;
    std::vector<std::string> patterns;  // host patterns; empty: every inventory host
    bool live = false;                  // gather facts now instead of reading saved ones
};

class VersionsService {
  public:
    // `store` may be null with `live` requests only.
    VersionsService(const Project& project, store::Store* store);
    void use_fleet(FleetService* fleet, ProgressFn progress) {
        m_fleet = fleet;
        m_progress = std::move(progress);
    }

    // The hosts a request names: Errc::invalid_argument for patterns matching nothing.
    [[nodiscard]] Result<std::vector<SelectedHost>> hosts(const VersionsRequest& request) const;
    // The report. Errc::invalid_argument when no package is named and the state files declare
    // none; Errc::not_found when a named package (or glob) is installed on no host whose
    // packages are known (a typo, most likely); Errc::store when saved facts cannot be read.
    // Hosts without facts are in the report.
    [[nodiscard]] Result<VersionsReport> run(const VersionsRequest& request,
                                             const std::vector<SelectedHost>& hosts);

    // The names of the [[package]]s of the project's state files (a .deb's name from its file
    // name, "NAME_VERSION_ARCH.deb"), sorted, each once.
    std::vector<std::string> declared_packages() const;

  private:
    [[nodiscard]] Result<HostPackages> saved(const SelectedHost& host);

    const Project& m_project;
    store::Store* m_store;
    FleetService* m_fleet = nullptr;
    ProgressFn m_progress;
};

}  // namespace shipshape::app
