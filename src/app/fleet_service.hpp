// Remote hosts for the use cases: FleetService turns inventory hosts into fleet endpoints,
// ships the ops repo to agents (a content-addressed bundle, sent once per version) and runs
// facts, commands and shipshape itself there. The other end is app/agent.hpp (serve_agent).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/agent_protocol.hpp"
#include "app/hosts.hpp"
#include "app/project.hpp"
#include "facts/facts.hpp"
#include "fleet/fleet.hpp"

namespace shipshape::app {

// Counts hosts of a fan-out for live progress; the callback runs under a lock.
struct FanoutCounts {
    std::string what;  // "facts", "apply", a step id ...
    size_t total = 0;
    size_t done = 0;
    size_t failed = 0;
    size_t running = 0;
};
using ProgressFn = std::function<void(const FanoutCounts&)>;

class Tally {
  public:
    Tally(std::string what, size_t total, ProgressFn fn);
    void started();
    void finished(bool ok);

  private:
    std::mutex m_lock;
    FanoutCounts m_counts;
    ProgressFn m_fn;
};

class FleetService {
  public:
    // Errc::invalid_argument for a bad [ssh] duration; the agent binary is this executable.
    [[nodiscard]] static Result<std::unique_ptr<FleetService>> create(
        const Project& project, const os::CancelSource* cancel, const std::string& version);

    fleet::Endpoint endpoint(const SelectedHost& host) const;
    int forks(size_t hosts) const;  // --forks, else [ssh] forks, else sized for the fleet
    void set_forks(int forks) { m_forks = forks; }
    // Files added to the ops repo bundle, derived from its files (`shipshape` adds the .deb
    // manifests: bundle_deb_manifests). None by default.
    using BundleExtras = std::function<std::vector<BundleFile>(const std::string& root,
                                                               const std::vector<BundleFile>&)>;
    void set_bundle_extras(BundleExtras fn) { m_bundle_extras = std::move(fn); }
    Millis timeout() const { return m_timeout; }
    fleet::Fleet& fleet() { return *m_fleet; }

    [[nodiscard]] Result<facts::HostFacts> facts(const SelectedHost& host,
                                                 const std::vector<std::string>& sections);
    // Runs a command on the host, streaming its merged output to `on_output`.
    [[nodiscard]] Result<os::ProcessOutcome> exec(
        const SelectedHost& host, const RemoteExec& request,
        const std::function<void(std::string_view)>& on_output);
    // Runs a command on the host over plain ssh (no agent, no timeout enforcement there).
    [[nodiscard]] Result<os::ProcessOutcome> run_direct(
        const SelectedHost& host, const std::vector<std::string>& argv,
        const std::function<void(std::string_view)>& on_output);
    // Closes the ssh master connection to the host (`fleet disconnect`). Returns whether one
    // was open; Errc::io when ssh could not close it.
    [[nodiscard]] Result<bool> disconnect(const SelectedHost& host);
    // Runs `shipshape ARGS` on the host inside a copy of the ops repo (sent when missing).
    [[nodiscard]] Result<RemoteShipshape> shipshape(const SelectedHost& host,
                                                    const std::vector<std::string>& args);

  private:
    FleetService(const Project& project, std::unique_ptr<fleet::Fleet> fleet, Millis timeout,
                 int forks);
    // The ops repo as a bundle request, built once.
    [[nodiscard]] Result<const std::string*> bundle();

    const Project& m_project;
    std::unique_ptr<fleet::Fleet> m_fleet;
    Millis m_timeout;
    int m_forks = 0;
    std::mutex m_bundle_lock;
    std::string m_bundle_hash;
    std::string m_bundle_request;
    std::optional<Error> m_bundle_error;
    bool m_bundle_built = false;
    BundleExtras m_bundle_extras;
};

}  // namespace shipshape::app
