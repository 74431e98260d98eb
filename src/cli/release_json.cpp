// The --json documents of release, sign-off and run --release refusals.
#include <nlohmann/json.hpp>

#include "cli/release_view.hpp"

namespace shipshape::cli {

namespace {

using nlohmann::json;

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json audit_json(const std::optional<store::AuditEntry>& e) {
    if (!e) {
        return nullptr;
    }
    return json{{"seq", e->seq}, {"hash", e->hash}};
}

json stage_json(const app::StageStatus& st, bool offline) {
    json have = json::object();
    for (const auto& [role, people] : st.gate.have) {
        have[role] = people;
    }
    json rejected = json::array();
    for (const auto& r : st.gate.rejected) {
        rejected.push_back({{"source", r.source}, {"reason", r.reason}});
    }
    json needs = json::object();
    for (const auto& [role, n] : st.stage->sign_offs) {
        needs[role] = n;
    }
    return json{{"name", st.stage->name},
                {"env", st.stage->env},
                {"after", st.stage->after.empty() ? json(nullptr) : json(st.stage->after)},
                {"sign_offs", needs},
                {"run_done", offline ? json(nullptr) : json(st.run_done)},
                {"ok", st.gate.ok},
                {"missing", st.gate.missing},
                {"have", have},
                {"rejected", rejected},
                {"voided", st.gate.voided}};
}

json status_json(const app::ReleaseStatus& s, bool offline, const std::string& kind) {
    json stages = json::array();
    for (const auto& st : s.stages) {
        stages.push_back(stage_json(st, offline));
    }
    return json{{"kind", kind},
                {"id", s.record.id},
                {"name", s.record.document.name},
                {"created_at", release::iso_time(s.record.created_at)},
                {"created_by", s.record.created_by},
                {"id_matches", s.id_matches},
                {"changed", s.changed},
                {"superseded_by", s.superseded_by.empty() ? json(nullptr) : json(s.superseded_by)},
                {"reached", s.reached.empty() ? json(nullptr) : json(s.reached)},
                {"document", json::parse(release::canonical_json(s.record.document))},
                {"stages", stages}};
}

}  // namespace

std::string json_release_created(const app::ReleaseCreated& created) {
    return dump(json{{"kind", "release-created"},
                     {"id", created.record.id},
                     {"name", created.record.document.name},
                     {"file", created.file},
                     {"existed", created.existed},
                     {"previous", created.previous ? json(created.previous->id) : json(nullptr)},
                     {"changes", created.changes},
                     {"document", json::parse(release::canonical_json(created.record.document))},
                     {"audit", audit_json(created.audit)}});
}

std::string json_release_status(const app::ReleaseStatus& s, bool offline,
                                const std::string& kind) {
    return dump(status_json(s, offline, kind));
}

std::string json_release_list(const std::vector<app::ReleaseStatus>& releases) {
    json list = json::array();
    for (const auto& s : releases) {
        list.push_back(status_json(s, false, "release"));
    }
    return dump(json{{"kind", "releases"}, {"releases", list}});
}

std::string json_sign_off(const app::SignOffDone& done) {
    return dump(json{{"kind", "sign-off"},
                     {"release", done.sign_off.release_id},
                     {"name", done.sign_off.release_name},
                     {"stage", done.sign_off.stage},
                     {"role", done.sign_off.role},
                     {"person", done.person},
                     {"at", release::iso_time(done.sign_off.at)},
                     {"file", done.file},
                     {"gate", stage_json(done.stage, false)},
                     {"audit", audit_json(done.audit)}});
}

std::string json_gate_refused(const std::string& release, const std::string& release_id,
                              const app::StageStatus& stage, int exit_code) {
    return dump(json{{"kind", "error"},
                     {"error", "gated"},
                     {"message", "release " + release + " may not run on " + stage.stage->env +
                                     ": " + missing_text(stage.gate)},
                     {"exit_code", exit_code},
                     {"release", release_id},
                     {"gate", stage_json(stage, false)}});
}

}  // namespace shipshape::cli
