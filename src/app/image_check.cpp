#include "app/image_check.hpp"

#include <chrono>

#include "app/image_service.hpp"
#include "core/wall_ms.hpp"
#include "facts/facts_json.hpp"
#include "os/fan_out.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

namespace {

std::vector<image::PackagePin> installed_pins(const facts::HostFacts& f) {
    std::vector<image::PackagePin> out;
    out.reserve(f.packages.size());
    for (const auto& p : f.packages) {
        if (p.status == "installed") {
            out.push_back({p.name, p.version, p.architecture});
        }
    }
    return out;
}

// The newest facts snapshot the store holds of `host`, or Errc::not_found.
Result<facts::HostFacts> stored_facts(store::Store* store, const std::string& host) {
    if (store == nullptr) {
        return fail(Errc::not_found, "no store to read saved facts of '" + host + "' from");
    }
    auto snaps = store->list_facts(host, 1);
    if (!snaps) {
        return fail(snaps.error());
    }
    if (snaps->empty()) {
        return fail(Errc::not_found, "no saved facts of '" + host +
                                         "' (save some with 'shipshape facts --save " + host +
                                         "' or 'shipshape facts import')");
    }
    auto snap = store->get_facts(snaps->front().id);
    if (!snap) {
        return fail(snap.error());
    }
    return facts::from_json(snap->document);
}

// The reason a host's live facts could not be had (the note the fallback left).
std::string gathered_note(const HostImageCheck& host) {
    const std::string suffix = "; checked from its saved facts";
    for (const auto& n : host.notes) {
        if (n.size() > suffix.size() &&
            n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
            return n.substr(0, n.size() - suffix.size());
        }
    }
    return "unreachable";
}

}  // namespace

ImageCheckService::ImageCheckService(const Project& project, store::Store* store,
                                     FleetService* fleet, os::ProcessRunner* runner,
                                     const os::CancelSource* cancel, const Clock& clock)
    : m_project(project),
      m_store(store),
      m_fleet(fleet),
      m_runner(runner),
      m_cancel(cancel),
      m_clock(clock) {}

Result<ImageCheckReport> ImageCheckService::check(const ImageCheckRequest& request) {
    ImageCheckReport report;
    auto policy = load_check_policy(m_project);
    if (!policy) {
        return fail(policy.error());
    }
    report.policy = std::move(*policy);
    auto img = image::resolve_image(images_dir(m_project), request.against);
    if (!img) {
        return fail(img.error());
    }
    report.image = std::move(*img);
    const int64_t now_ms = wall_ms(m_clock);
    auto age = image::image_age_seconds(report.image.created, now_ms);
    if (!age) {
        return fail(age.error().context("image " + report.image.id.substr(0, 12)));
    }
    report.age_seconds = *age;
    auto hosts = select_hosts_or_this_machine(&m_project.inventory, request.patterns);
    if (!hosts) {
        return fail(hosts.error());
    }
    const size_t n = hosts->size();
    report.hosts.resize(n);

    // Packages: live facts (remote hosts in parallel through their agents), or saved ones.
    std::vector<std::optional<Result<facts::HostFacts>>> found(n);
    if (!request.saved) {
        FactsService facts_service(m_project, m_store);
        facts_service.use_fleet(m_fleet, {});
        auto gathered = facts_service.gather(*hosts, {"packages"}, false);
        for (size_t i = 0; i < n; ++i) {
            if (gathered[i].facts) {
                found[i] = std::move(*gathered[i].facts);
                report.hosts[i].source = "live";
            } else if (!(*hosts)[i].local && gathered[i].error &&
                       gathered[i].error->code() == Errc::unreachable && m_store) {
                report.hosts[i].notes.push_back(gathered[i].error->message() +
                                                "; checked from its saved facts");
            } else {
                found[i] = fail(*gathered[i].error);
            }
        }
    }
    for (size_t i = 0; i < n; ++i) {
        if (!found[i]) {
            found[i] = stored_facts(m_store, (*hosts)[i].name);
            report.hosts[i].source = "stored";
            if (!*found[i] && !request.saved) {
                // Out of reach and never saved: say both.
                found[i] = fail(Errc::unreachable, gathered_note(report.hosts[i]) + "; " +
                                                       found[i]->error().message());
            }
        }
    }

    // Drift: this machine planned here; remote hosts described by their agents (in parallel);
    // stored hosts from their last drift report.
    StateService state(m_project, m_store, m_runner, m_cancel, m_clock);
    state.use_fleet(m_fleet);
    std::vector<std::optional<Result<state::HostState>>> remote(n);
    // The parameters each host's last apply used (the store serves this thread only).
    std::vector<Variables> params(n);
    for (size_t i = 0; i < n; ++i) {
        bool recorded = false;
        if (auto p = state.params_for((*hosts)[i].name, {}, &recorded)) {
            params[i] = std::move(*p);
        }
    }
    os::fan_out(n, m_fleet ? m_fleet->forks(n) : 1, [&](size_t i) {
        const auto& h = (*hosts)[i];
        if (h.local || report.hosts[i].source != "live" || !*found[i] ||
            m_project.inventory.roles_of(h.name).empty()) {
            return;
        }
        remote[i] = state.agent_host_state(h, params[i]);
    });
    for (size_t i = 0; i < n; ++i) {
        const auto& h = (*hosts)[i];
        HostImageCheck& out = report.hosts[i];
        out.host = h.name;
        if (!*found[i]) {
            out.error = found[i]->error();
            continue;
        }
        out.delta = image::package_delta(report.image.packages, installed_pins(**found[i]),
                                         report.image.architecture);
        std::vector<std::string> drift_plan;
        const auto roles = m_project.inventory.roles_of(h.name);
        const auto files = state_files_of(m_project, roles);
        if (files.empty()) {
            out.drift = 0;  // no roles: no desired state to drift from
        } else if (out.source == "live" && h.local) {
            StateRequest req;
            req.params = params[i];
            auto hp = state.plan(HostTarget{h, roles, files}, req);
            if (hp.error || !hp.plan) {
                out.notes.push_back("desired state: " +
                                    (hp.error ? hp.error->message() : std::string("no plan")));
            } else {
                out.drift = hp.plan->changes.size() + hp.plan->unmanaged.size();
                for (const auto& c : hp.plan->changes) {
                    drift_plan.push_back(std::string(state::action_name(c.action)) + " " + c.what +
                                         " " + c.path);
                }
            }
        } else {
            bool have = false;
            Result<state::HostState> hs = fail(Errc::not_found, "no drift report");
            if (remote[i]) {
                if (*remote[i] || remote[i]->error().code() != Errc::unreachable) {
                    hs = std::move(*remote[i]);
                    have = true;
                } else {
                    out.notes.push_back(remote[i]->error().message() +
                                        "; drift from its saved report");
                }
            }
            if (!have) {
                hs = state.stored_host_state(h);
            }
            if (hs) {
                out.drift = hs->drift;
            } else {
                out.notes.push_back("desired state: " + hs.error().message());
            }
            if (out.drift && *out.drift > 0) {
                drift_plan.push_back(std::to_string(*out.drift) +
                                     " desired-state changes: see 'shipshape plan " + h.name + "'");
            }
            if (!out.drift) {
                out.notes.push_back(
                    "drift unknown: no saved drift report (save one with 'shipshape drift --save " +
                    h.name + "')");
            }
        }
        out.verdict = image::recommend(out.delta, out.drift.value_or(0), report.policy);
        if (out.verdict.recommendation == image::Recommendation::patch) {
            out.plan = image::package_actions(out.delta);
            out.plan.insert(out.plan.end(), drift_plan.begin(), drift_plan.end());
            if (out.drift.value_or(0) > 0) {
                out.plan.push_back("shipshape apply " + h.name);
            }
        }
    }
    return report;
}

}  // namespace shipshape::app
