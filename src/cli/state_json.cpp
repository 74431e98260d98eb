// The JSON documents of plan, apply and drift (json_state, json_env_drift): shared by `shipshape`
// and the agent (shipshape-agent), which answers a controller's remote plan with the same
// document.
#include <nlohmann/json.hpp>

#include "app/state_service.hpp"
#include "cli/json.hpp"
#include "cli/json_internal.hpp"
#include "facts/facts_json.hpp"

namespace shipshape::cli {

using nlohmann::json;

namespace {

json host_plan_json(const std::string& kind, const app::HostPlan& hp,
                    const state::ApplyReport* report) {
    json j = {{"host", hp.target.host.name},
              {"env", hp.target.host.env},
              {"roles", hp.target.roles},
              {"states", hp.target.state_files}};
    if (hp.error) {
        j["error"] = {{"code", errc_name(hp.error->code())}, {"message", hp.error->message()}};
        return j;
    }
    const state::Plan& plan = *hp.plan;
    json changes = json::array();
    for (size_t i = 0; i < plan.changes.size(); ++i) {
        const auto& c = plan.changes[i];
        json cj = {{"action", state::action_name(c.action)},
                   {"what", c.what},
                   {"path", c.path},
                   {"details", c.details},
                   {"resource", hp.state->resources[c.resource].label()},
                   {"declared_at", hp.state->resources[c.resource].state_file + ":" +
                                       std::to_string(hp.state->resources[c.resource].pos.line)}};
        if (!c.diff.empty()) {
            cj["diff"] = c.diff;
        }
        if (!c.error.empty()) {
            cj["error"] = c.error;
        }
        if (c.unsupported) {
            cj["unsupported"] = true;
        }
        if (report) {
            const auto& r = report->results[i];
            cj["ok"] = r.ok;
            if (!r.error.empty()) {
                cj["error"] = r.error;
            }
            if (!r.output.empty()) {
                cj["output"] = r.output;
            }
        }
        changes.push_back(std::move(cj));
    }
    j["resources"] = plan.resources;
    j["summary"] = {{"create", plan.creates},
                    {"change", plan.changes_count},
                    {"remove", plan.removes},
                    {"run", plan.runs},
                    {"errors", plan.errors}};
    j["changes"] = std::move(changes);
    if (kind == "drift") {
        j["unmanaged"] = plan.unmanaged;
        j["drifted"] = !plan.empty() || !plan.unmanaged.empty();
    }
    if (report) {
        j["applied"] = report->applied;
        j["failed"] = report->failed;
        j["sync"] = {{"files_written", report->files_written},
                     {"syncfs_calls", report->syncfs_calls},
                     {"file_fsyncs", report->file_fsyncs},
                     {"dir_fsyncs", report->dir_fsyncs}};
    }
    return j;
}

// A remote host's entries: the hosts of its agent's document, or an error entry.
void add_remote_hosts(const app::HostOutcome& h, json& out) {
    const auto& t = h.target;
    json host = {
        {"host", t.host.name}, {"env", t.host.env}, {"roles", t.roles}, {"states", t.state_files}};
    const auto& r = *h.remote;
    if (!r) {
        host["error"] = {{"code", errc_name(r.error().code())}, {"message", r.error().message()}};
        out.push_back(std::move(host));
        return;
    }
    auto theirs = json::parse(r->out, nullptr, false);
    if (theirs.is_discarded() || !theirs.contains("hosts")) {
        if (!theirs.is_discarded() && theirs.contains("error")) {
            host["error"] = theirs["error"];
        } else {
            host["error"] = {{"code", "io"}, {"message", "the agent answered no plan: " + r->err}};
        }
        out.push_back(std::move(host));
        return;
    }
    for (auto& e : theirs["hosts"]) {
        out.push_back(std::move(e));
    }
}

}  // namespace

std::string json_state(const app::StateOutcome& outcome, int exit_code) {
    const std::string kind = app::mode_name(outcome.mode);
    json hosts = json::array();
    json tally = {{"hosts", outcome.hosts.size()}};
    for (const auto& h : outcome.hosts) {
        if (h.plan) {
            hosts.push_back(host_plan_json(kind, *h.plan, h.report ? &*h.report : nullptr));
        } else if (h.remote) {
            add_remote_hosts(h, hosts);
        }
    }
    tally["changed"] = outcome.hosts_with(app::HostVerdict::changed);
    tally["failed"] = outcome.hosts_with(app::HostVerdict::failed);
    tally["in_sync"] = outcome.hosts_with(app::HostVerdict::in_sync);
    return dump(json{{"kind", kind},
                     {"exit_code", exit_code},
                     {"hosts", hosts},
                     {"tally", tally},
                     {"notes", outcome.notes}});
}

std::string json_env_drift(const state::EnvComparison& c, int exit_code) {
    auto side = [](const state::SideValue& v) {
        json j = {{"by_host", v.by_host}};
        if (v.value) {
            j["value"] = *v.value;
        }
        return j;
    };
    json roles = json::array();
    for (const auto& r : c.roles) {
        json diffs = json::array();
        for (const auto& d : r.differences) {
            diffs.push_back(
                {{"subject", d.subject}, {"left", side(d.left)}, {"right", side(d.right)}});
        }
        roles.push_back({{"roles", r.roles},
                         {"left_hosts", r.left_hosts},
                         {"right_hosts", r.right_hosts},
                         {"differences", diffs}});
    }
    return dump(json{{"kind", "env-drift"},
                     {"exit_code", exit_code},
                     {"left", c.left_env},
                     {"right", c.right_env},
                     {"differences", c.difference_count()},
                     {"roles", roles},
                     {"notes", c.notes}});
}

}  // namespace shipshape::cli
