// The use case behind `require check`: a requirements file checked against hosts' facts, with
// paths the facts do not list probed on each host (stat here, `test -e` through the agent
// elsewhere). Works outside an ops repo for this machine: give it an empty Project rooted at the
// working directory. Prints nothing.
//
// Threading: one RequireService per command; check() gathers facts in parallel through
// FactsService and probes paths from the calling thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/facts_service.hpp"
#include "app/hosts.hpp"
#include "require/requirements.hpp"

namespace shipshape::app {

struct RequireReport {
    std::vector<require::CheckRow> rows;                // host by host, file order within
    std::vector<std::pair<std::string, Error>> errors;  // hosts whose facts could not be had
    size_t hosts_checked = 0;                           // hosts with facts

    // True when every host was checked and every row is ok.
    bool ok() const;
    // Rows that are not ok.
    size_t not_met() const;
    // The hosts with a row that is not ok, in the order checked.
    std::vector<std::string> hosts_not_met() const;
};

class RequireService {
  public:
    // `fleet` reaches remote hosts (may be null: they are then reported unsupported).
    RequireService(const Project& project, FleetService* fleet, ProgressFn progress);

    // Reads `path` (relative to the ops repo, or to the working directory outside one).
    [[nodiscard]] Result<require::Requirements> load(const std::string& path) const;

    // Checks `requirements` on `hosts`. Never fails as a whole: see RequireReport::errors.
    RequireReport check(const require::Requirements& requirements,
                        const std::vector<SelectedHost>& hosts);

    // How a host's paths are probed; tests replace it. The default stats local paths and asks
    // remote hosts' agents (`test -e PATH`); nullopt when it cannot tell.
    using ProbeFactory = std::function<require::PathProbe(const SelectedHost&)>;
    void use_probe(ProbeFactory factory) { m_probe = std::move(factory); }

  private:
    require::PathProbe default_probe(const SelectedHost& host);

    FleetService* m_fleet;
    FactsService m_facts;
    ProbeFactory m_probe;
};

}  // namespace shipshape::app
