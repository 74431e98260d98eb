#include "app/audit_entries.hpp"

#include <string>

#include "store/audit.hpp"

namespace shipshape::app {

namespace {

const char* verdict_name(HostVerdict v) {
    switch (v) {
        case HostVerdict::in_sync:
            return "in-sync";
        case HostVerdict::changed:
            return "changed";
        case HostVerdict::failed:
            return "failed";
    }
    return "failed";
}

store::AuditEntry base(const HostOutcome& h, const char* kind, std::string_view actor, int64_t at) {
    store::AuditEntry e;
    e.at = at;
    e.kind = kind;
    e.actor = std::string(actor);
    e.subject = h.target.host.name;
    return e;
}

}  // namespace

std::vector<store::AuditEntry> state_audit_entries(const StateOutcome& out, std::string_view actor,
                                                   int64_t at) {
    std::vector<store::AuditEntry> entries;
    if (out.mode == StateMode::plan) {
        return entries;
    }
    entries.reserve(out.hosts.size());
    for (const auto& h : out.hosts) {
        store::AuditDetail detail;
        detail.add("host", h.target.host.name).add("env", h.target.host.env);
        if (out.mode == StateMode::apply) {
            detail.add("result", verdict_name(h.verdict));
            if (h.report) {
                detail.add("changed", static_cast<int64_t>(h.report->applied));
                detail.add("failed", static_cast<int64_t>(h.report->failed));
            }
            auto e = base(h, "apply", actor, at);
            e.detail = detail.str();
            entries.push_back(std::move(e));
            continue;
        }
        if (h.verdict != HostVerdict::changed) {
            continue;
        }
        if (h.plan && h.plan->plan) {
            const auto& plan = *h.plan->plan;
            std::vector<std::string> drifted;
            for (const auto& c : plan.changes) {
                if (drifted.size() < k_drift_listed) {
                    drifted.push_back(c.path);
                }
            }
            for (const auto& path : plan.unmanaged) {
                if (drifted.size() < k_drift_listed) {
                    drifted.push_back(path);
                }
            }
            detail.add("drifted",
                       static_cast<int64_t>(plan.changes.size() + plan.unmanaged.size()));
            detail.add("resources", drifted);
        }
        auto e = base(h, "drift", actor, at);
        e.detail = detail.str();
        entries.push_back(std::move(e));
    }
    return entries;
}

}  // namespace shipshape::app
