#include "app/run_hosts.hpp"

#include <set>

#include "app/facts_service.hpp"
#include "app/state_service.hpp"
#include "facts/collect.hpp"
#include "facts/facts_json.hpp"
#include "os/file_system.hpp"

extern char** environ;

namespace shipshape::app {

Result<std::vector<checklist::HostVars>> resolve_host_vars(const Inventory& inventory,
                                                           const std::string& pattern) {
    auto hosts = select_hosts(inventory, {pattern});
    if (!hosts) {
        return fail(hosts.error());
    }
    std::vector<checklist::HostVars> out;
    for (const auto& h : *hosts) {
        checklist::HostVars hv;
        hv.name = h.name;
        hv.vars["host"] = h.name;
        hv.vars["host.address"] = h.address;
        hv.vars["host.env"] = h.env;
        hv.vars["host.user"] = h.user;
        for (const auto& [k, v] : h.tags) {
            hv.vars["host.tags." + k] = v;
        }
        out.push_back(std::move(hv));
    }
    return out;
}

std::vector<std::string> facts_sections(const checklist::Checklist& checklist) {
    std::set<std::string> sections;
    auto add = [&](const std::string& text) {
        auto names = template_names(text);
        if (!names) {
            return;
        }
        for (const auto& n : *names) {
            if (n.rfind("facts.", 0) == 0) {
                sections.insert(n.substr(6, n.find('.', 6) - 6));
            }
        }
    };
    auto add_command = [&](const std::optional<checklist::Command>& c) {
        if (!c) {
            return;
        }
        add(c->shell);
        for (const auto& a : c->argv) {
            add(a);
        }
    };
    for (const auto& s : checklist.steps) {
        add_command(s.run);
        add_command(s.unless);
        add_command(s.verify);
        add_command(s.undo);
        for (const auto& kv : s.env) {
            add(kv.second);
        }
        add(s.cwd);
        add(s.manual);
    }
    return {sections.begin(), sections.end()};
}

Variables RenderFacts::local() const {
    if (m_sections.empty()) {
        return {};
    }
    facts::GatherOptions go;
    go.sections = m_sections;
    return facts_variables(facts::to_json(facts::gather_facts(go), go.sections, -1));
}

Result<std::map<std::string, Variables>> RenderFacts::hosts(
    const std::vector<std::string>& names) const {
    std::map<std::string, Variables> out;
    if (m_sections.empty() || names.empty()) {
        return out;
    }
    std::vector<SelectedHost> selected;
    for (auto& h : all_hosts(m_project.inventory)) {
        if (std::find(names.begin(), names.end(), h.name) != names.end()) {
            selected.push_back(std::move(h));
        }
    }
    FactsService service(m_project, nullptr);
    service.use_fleet(m_fleet, nullptr);
    for (auto& r : service.gather(selected, m_sections, false)) {
        if (!r.facts) {
            Error e = r.error ? *r.error : Error(Errc::internal, "no facts");
            return fail(e.code(), "gathering the facts of host " + r.host.name +
                                      " for {{facts.*}}: " + e.message());
        }
        out[r.host.name] = facts_variables(facts::to_json(*r.facts, m_sections, -1));
    }
    return out;
}

FleetHostRunner::FleetHostRunner(const Project& project, FleetService* fleet,
                                 os::ProcessRunner& local)
    : m_fleet(fleet), m_local(local), m_root(project.root) {
    for (auto& h : all_hosts(project.inventory)) {
        m_hosts.emplace(h.name, std::move(h));
    }
}

Result<os::ProcessOutcome> FleetHostRunner::run(const std::string& host,
                                                const os::ProcessSpec& spec, os::OutputSink& sink,
                                                const os::CancelSource* cancel) {
    auto it = m_hosts.find(host);
    if (it == m_hosts.end()) {
        return fail(Errc::not_found, "no host '" + host + "' in inventory.toml");
    }
    if (it->second.local) {
        os::ProcessSpec here = spec;
        if (here.cwd.empty()) {
            here.cwd = m_root;
        } else {
            here.cwd = os::path_absolute(here.cwd, m_root);
        }
        std::vector<std::string> env;
        for (char** e = environ; e && *e; ++e) {
            env.emplace_back(*e);
        }
        env.insert(env.end(), spec.env->begin(), spec.env->end());
        here.env = std::move(env);
        return m_local.run(here, sink, cancel);
    }
    if (!m_fleet) {
        return fail(Errc::unsupported,
                    "host " + host + " is remote and no ssh transport is set up");
    }
    RemoteExec req{spec.argv, spec.env.value_or(std::vector<std::string>{}), spec.cwd,
                   spec.timeout};
    auto o = m_fleet->exec(it->second, req, [&](std::string_view chunk) { sink.on_output(chunk); });
    if (!o && o.error().code() == Errc::interrupted) {
        return os::ProcessOutcome{os::ExitKind::cancelled, -1, Millis(0)};
    }
    return o;
}

}  // namespace shipshape::app
