#include "server/api_json.hpp"

#include <nlohmann/json.hpp>

namespace shipshape::server {

namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& doc) {
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A run has ended when nothing will change it without a command: done, failed, undone,
// undo-failed. Its last update is its end.
json ended_at(const store::RunRecord& run) {
    const auto& s = run.status;
    if (s == "done" || s == "failed" || s == "undone" || s == "undo-failed") {
        return run.updated_at;
    }
    return nullptr;
}

json run_json(const store::RunRecord& r) {
    json params = json::object();
    for (const auto& [k, v] : r.params) {
        params[k] = v;
    }
    return json{{"id", r.id},
                {"checklist", r.checklist_name},
                {"checklist_path", r.checklist_path},
                {"env", r.env},
                {"status", r.status},
                {"user", r.user},
                {"host", r.host},
                {"started_at_ms", r.started_at},
                {"updated_at_ms", r.updated_at},
                {"ended_at_ms", ended_at(r)},
                {"params", params}};
}

}  // namespace

std::string json_error(std::string_view message) {
    return dump(json{{"error", message}});
}

std::string json_health(const ServerInfo& info, std::string_view status, std::string_view detail,
                        std::optional<int64_t> schema_version) {
    json store{{"kind", info.store_kind}};
    if (schema_version) {
        store["schema_version"] = *schema_version;
    }
    json doc{{"status", status}, {"version", info.version}, {"store", store}, {"api", "v1"}};
    if (!detail.empty()) {
        doc["error"] = detail;
    }
    return dump(doc);
}

std::string json_run_list(const std::vector<store::RunRecord>& runs) {
    json arr = json::array();
    for (const auto& r : runs) {
        arr.push_back(run_json(r));
    }
    return dump(arr);
}

std::string json_run_detail(const app::RunDetails& d) {
    json steps = json::array();
    for (const auto& v : d.steps) {
        const auto& s = v.record;
        json offs = json::array();
        for (const auto& c : v.check_offs) {
            offs.push_back({{"role", c.role}, {"by", c.by}, {"note", c.note}, {"at_ms", c.at}});
        }
        json step{{"id", s.step_id}, {"kind", v.kind}, {"status", s.state}};
        if (v.kind == "manual") {
            step["role"] = v.role;
        }
        step["attempts"] = s.attempts;
        step["exit_code"] = s.exit_code >= 0 && s.state != "pending" ? json(s.exit_code) : json();
        step["detail"] = s.detail;
        step["started_at_ms"] = s.started_at > 0 ? json(s.started_at) : json();
        step["finished_at_ms"] = s.finished_at > 0 ? json(s.finished_at) : json();
        step["duration_ms"] = s.duration_ms;
        step["undo_status"] = s.undo_state;
        step["has_log"] = v.has_log;
        step["check_offs"] = offs;
        step["needs"] = v.needs;  // the page draws the steps' waves from these
        steps.push_back(step);
    }
    json doc = run_json(d.run);
    doc["steps"] = steps;
    return dump(doc);
}

std::string json_step_log(std::string_view run_id, std::string_view step_id,
                          std::string_view text) {
    return dump(json{{"run", run_id}, {"step", step_id}, {"log", text}});
}

}  // namespace shipshape::server
