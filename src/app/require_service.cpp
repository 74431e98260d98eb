#include "app/require_service.hpp"

#include <sys/stat.h>

#include <algorithm>

namespace shipshape::app {

bool RequireReport::ok() const {
    return errors.empty() && not_met() == 0;
}

size_t RequireReport::not_met() const {
    return static_cast<size_t>(std::count_if(
        rows.begin(), rows.end(), [](const auto& r) { return r.verdict != require::Verdict::ok; }));
}

std::vector<std::string> RequireReport::hosts_not_met() const {
    std::vector<std::string> out;
    for (const auto& r : rows) {
        if (r.verdict != require::Verdict::ok &&
            std::find(out.begin(), out.end(), r.host) == out.end()) {
            out.push_back(r.host);
        }
    }
    return out;
}

RequireService::RequireService(const Project& project, FleetService* fleet, ProgressFn progress)
    : m_fleet(fleet), m_facts(project, nullptr) {
    m_facts.use_fleet(fleet, std::move(progress));
}

Result<require::Requirements> RequireService::load(const std::string& path) const {
    return m_facts.load_requirements(path);
}

require::PathProbe RequireService::default_probe(const SelectedHost& host) {
    if (host.local) {
        return [](const std::string& path) -> std::optional<bool> {
            struct stat st {};
            return ::stat(path.c_str(), &st) == 0;
        };
    }
    return [this, host](const std::string& path) -> std::optional<bool> {
        if (!m_fleet) {
            return std::nullopt;
        }
        RemoteExec probe;
        probe.argv = {"test", "-e", path};
        auto found = m_fleet->exec(host, probe, {});
        if (!found || found->kind != os::ExitKind::exited) {
            return std::nullopt;
        }
        return found->code == 0;
    };
}

RequireReport RequireService::check(const require::Requirements& requirements,
                                    const std::vector<SelectedHost>& hosts) {
    RequireReport report;
    auto results = m_facts.gather(hosts, {}, false);
    for (const auto& r : results) {
        if (r.error) {
            report.errors.emplace_back(r.host.name, *r.error);
            continue;
        }
        ++report.hosts_checked;
        auto probe = m_probe ? m_probe(r.host) : default_probe(r.host);
        auto rows = require::check_requirements(requirements, *r.facts, probe);
        report.rows.insert(report.rows.end(), rows.begin(), rows.end());
    }
    return report;
}

}  // namespace shipshape::app
