// Use cases for host facts and requirements, shared by the command line and (later) the
// server: gather facts for selected hosts, save and load snapshots, compare two of them, and
// check requirements.toml against them. Local hosts are gathered in-process, remote hosts by
// their agents over ssh (in parallel), when a FleetService is given.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/fleet_service.hpp"
#include "app/hosts.hpp"
#include "app/project.hpp"
#include "facts/diff.hpp"
#include "facts/facts.hpp"
#include "require/requirements.hpp"
#include "store/store.hpp"

namespace shipshape::app {

struct HostFactsResult {
    SelectedHost host;
    std::optional<facts::HostFacts> facts;
    std::optional<Error> error;  // unreachable or unsupported host
    int64_t snapshot_id = 0;     // when saved
};

class FactsService {
  public:
    // `store` may be null when nothing is saved or loaded (gathering and checking only).
    FactsService(const Project& project, store::Store* store);

    // Remote hosts are reached through `fleet` (without one they are unsupported); `progress`
    // hears about each host of a gather.
    void use_fleet(FleetService* fleet, ProgressFn progress) {
        m_fleet = fleet;
        m_progress = std::move(progress);
    }

    // Gathers facts for each host (`sections` empty: all). Never fails as a whole.
    std::vector<HostFactsResult> gather(const std::vector<SelectedHost>& hosts,
                                        const std::vector<std::string>& sections, bool save);
    // A reference is "@ID" (a saved snapshot) or a host name or pattern naming one host.
    [[nodiscard]] Result<facts::HostFacts> resolve(const std::string& ref);
    [[nodiscard]] Result<std::vector<store::FactsSnapshot>> snapshots(const std::string& host);
    // Saves a facts document gathered elsewhere (another tool run, a host out of reach) as a
    // snapshot of inventory host `host`. Returns the snapshot id.
    [[nodiscard]] Result<int64_t> import(const std::string& host, const std::string& document);

    // Loads requirements.toml (or `path`) from the repo.
    [[nodiscard]] Result<require::Requirements> load_requirements(const std::string& path) const;

  private:
    [[nodiscard]] Result<facts::HostFacts> gather_one(const SelectedHost& host,
                                                      const std::vector<std::string>& sections);

    const Project& m_project;
    store::Store* m_store;
    FleetService* m_fleet = nullptr;
    ProgressFn m_progress;
};

// A stable 64-bit FNV-1a hash in hex: identifies a document, not a security measure.
std::string content_hash(std::string_view text);

}  // namespace shipshape::app
