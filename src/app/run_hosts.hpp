// Hosts for fleet steps: the template variables of the hosts a step's `on` names, and the
// HostRunner that runs a step's commands on them (remote hosts through the fleet's agent, this
// machine through the local process runner). Used by RunService only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "app/fleet_service.hpp"
#include "app/hosts.hpp"
#include "app/project.hpp"
#include "checklist/engine.hpp"
#include "checklist/load.hpp"
#include "core/template.hpp"

namespace shipshape::app {

// The inventory hosts `pattern` names, each with {{host}}, {{host.address}}, {{host.env}},
// {{host.user}} and {{host.tags.*}}. Errc::invalid_argument for a pattern matching nothing.
[[nodiscard]] Result<std::vector<checklist::HostVars>> resolve_host_vars(
    const Inventory& inventory, const std::string& pattern);

// The facts sections a checklist's templates name ({{facts.os.version_id}} names "os"), sorted;
// empty when it names no fact, so that a run without facts gathers none.
std::vector<std::string> facts_sections(const checklist::Checklist& checklist);

// {{facts.*}} variables for templates, gathered when a run renders its checklist: this
// machine's (for steps without `on`) and each host's (for its copy of a step with `on`).
class RenderFacts {
  public:
    RenderFacts(const Project& project, FleetService* fleet, std::vector<std::string> sections)
        : m_project(project), m_fleet(fleet), m_sections(std::move(sections)) {}

    // This machine's facts as variables; none when no section is wanted.
    [[nodiscard]] Variables local() const;
    // Each of `hosts`' facts as variables, gathered in parallel (remote hosts through their
    // agents). A host whose facts cannot be gathered fails the whole call, naming it and why
    // (Errc::unreachable and the like): a command must not run with a fact left out.
    [[nodiscard]] Result<std::map<std::string, Variables>> hosts(
        const std::vector<std::string>& names) const;

  private:
    const Project& m_project;
    FleetService* m_fleet;
    std::vector<std::string> m_sections;
};

// Runs the commands of fleet steps: through the agent on remote hosts, here for this machine
// (in the ops repo root, with this process's environment plus what the step adds).
class FleetHostRunner final : public checklist::HostRunner {
  public:
    FleetHostRunner(const Project& project, FleetService* fleet, os::ProcessRunner& local);

    Result<os::ProcessOutcome> run(const std::string& host, const os::ProcessSpec& spec,
                                   os::OutputSink& sink, const os::CancelSource* cancel) override;

  private:
    FleetService* m_fleet;
    os::ProcessRunner& m_local;
    std::string m_root;
    std::map<std::string, SelectedHost> m_hosts;
};

}  // namespace shipshape::app
