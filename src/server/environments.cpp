#include "server/environments.hpp"

#include <algorithm>

#include "app/hosts.hpp"
#include "facts/facts_json.hpp"
#include "os/file_system.hpp"
#include "require/requirements.hpp"
#include "state/report.hpp"

namespace shipshape::server {

namespace {

// requirements.toml at the repo root: parsed, or why there is nothing to check.
struct LoadedRequirements {
    std::optional<require::Requirements> req;
    std::string why_not;
};

LoadedRequirements load_requirements(const app::Project& project) {
    std::string path = project.root + "/requirements.toml";
    auto text = os::read_whole_file(path);
    if (!text) {
        return {std::nullopt, text.error().code() == Errc::not_found
                                  ? "no requirements.toml in the ops repo"
                                  : text.error().message()};
    }
    auto req = require::parse_requirements(*text, "requirements.toml");
    if (!req) {
        return {std::nullopt, req.error().message()};
    }
    return {std::move(*req), ""};
}

std::string differences(size_t n) {
    if (n == 0) {
        return "clean";
    }
    return std::to_string(n) + (n == 1 ? " difference" : " differences");
}

Status fill(HostStatus& h, const app::Project& project, store::HostStore& store, int64_t now_ms,
            const LoadedRequirements& loaded) {
    auto applied = store.applied_params(h.host);
    if (!applied) {
        return tl::unexpected(applied.error());
    }
    if (*applied) {
        for (const auto& [name, value] : (*applied)->params) {
            if (name == "version") {
                h.version = value;
                h.version_source = "apply";
            }
        }
    }
    auto snaps = store.list_facts(h.host, 1);
    if (!snaps) {
        return tl::unexpected(snaps.error());
    }
    std::optional<facts::HostFacts> facts;
    std::string facts_problem = "no facts saved for this host";
    if (!snaps->empty()) {
        const auto& s = snaps->front();
        h.facts_at_ms = s.at;
        h.facts_age_s = now_ms >= s.at ? (now_ms - s.at) / 1000 : 0;
        // Listing may leave documents out: the one snapshot is read whole.
        auto whole = s.document.empty() ? store.get_facts(s.id) : Result<store::FactsSnapshot>(s);
        if (!whole) {
            return tl::unexpected(whole.error());
        }
        auto parsed = facts::from_json(whole->document);
        if (parsed) {
            facts = std::move(*parsed);
        } else {
            facts_problem = "the latest facts cannot be read: " + parsed.error().message();
        }
    }
    if (h.version_source.empty() && !project.config.package.empty() && facts) {
        for (const auto& p : facts->packages) {
            if (p.name == project.config.package && p.status == "installed") {
                h.version = p.version;
                h.version_source = "facts";
            }
        }
    }
    auto report = store.latest_host_state(h.host);
    if (!report) {
        return tl::unexpected(report.error());
    }
    if (*report) {
        h.drift_at_ms = (*report)->at;
        auto state = state::host_state_from_json((*report)->document);
        if (state && state->drift) {
            h.drift = differences(*state->drift);
        }
    }
    if (!loaded.req) {
        h.requirements_detail = loaded.why_not;
    } else if (!facts) {
        h.requirements_detail = facts_problem;
    } else {
        // Only the saved facts: a path they do not list is unknown rather than probed.
        auto rows = require::check_requirements(
            *loaded.req, *facts, [](const std::string&) { return std::optional<bool>(); });
        size_t failed = 0;
        size_t unknown = 0;
        for (const auto& r : rows) {
            failed += r.verdict == require::Verdict::fail ? 1 : 0;
            unknown += r.verdict == require::Verdict::unknown ? 1 : 0;
        }
        if (failed > 0) {
            h.requirements = "fail";
            h.requirements_detail = std::to_string(failed) + " of " + std::to_string(rows.size()) +
                                    " requirements not met";
        } else if (unknown > 0) {
            h.requirements_detail = std::to_string(unknown) + " of " + std::to_string(rows.size()) +
                                    " requirements cannot be told from the saved facts";
        } else {
            h.requirements = "pass";
            h.requirements_detail = std::to_string(rows.size()) + " requirements met";
        }
    }
    return {};
}

}  // namespace

Result<EnvironmentsView> compute_environments(const app::Project& project, store::HostStore& store,
                                              int64_t now_ms) {
    EnvironmentsView view;
    view.project = project.config.name;
    view.environments = project.inventory.env_names();
    LoadedRequirements loaded = load_requirements(project);
    std::vector<std::string> listed;
    auto add = [&](const std::string& host, const std::string& env) -> Status {
        HostStatus h;
        h.host = host;
        h.env = env;
        if (auto ok = fill(h, project, store, now_ms, loaded); !ok) {
            return ok;
        }
        view.hosts.push_back(std::move(h));
        return {};
    };
    for (const auto& env : project.inventory.environments) {
        for (const auto& host : env.hosts) {
            if (auto ok = add(host, env.name); !ok) {
                return tl::unexpected(ok.error());
            }
            listed.push_back(host);
        }
    }
    // Hosts of the inventory that no environment lists still have a row.
    for (const auto& h : app::all_hosts(project.inventory)) {
        if (std::find(listed.begin(), listed.end(), h.name) == listed.end()) {
            if (auto ok = add(h.name, ""); !ok) {
                return tl::unexpected(ok.error());
            }
        }
    }
    return view;
}

}  // namespace shipshape::server
