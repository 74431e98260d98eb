// The JSON document of GET /api/v1/releases (releases.hpp): nlohmann/json stays in this adapter
// file.
#include <nlohmann/json.hpp>

#include "release/release.hpp"
#include "server/releases.hpp"

namespace shipshape::server {

namespace {

using json = nlohmann::ordered_json;

json or_null(const std::string& s) {
    return s.empty() ? json() : json(s);
}

json sign_offs_wanted(const release::Stage& stage) {
    json wanted = json::object();
    for (const auto& [role, n] : stage.sign_offs) {
        wanted[role] = n;
    }
    return wanted;
}

json stage_json(const app::StageStatus& st) {
    json have = json::object();
    for (const auto& [role, people] : st.gate.have) {
        have[role] = people;
    }
    return json{{"name", st.stage->name},
                {"env", st.stage->env},
                {"after", or_null(st.stage->after)},
                {"sign_offs", sign_offs_wanted(*st.stage)},
                {"run_done", st.run_done},
                {"ok", st.gate.ok},
                {"missing", st.gate.missing},
                {"have", have},
                {"rejected", st.gate.rejected.size()},
                {"voided", st.gate.voided}};
}

}  // namespace

std::string json_releases(const ReleasesView& view) {
    json stages = json::array();
    if (view.stages != nullptr) {
        for (const auto& s : *view.stages) {
            stages.push_back({{"name", s.name},
                              {"env", s.env},
                              {"after", or_null(s.after)},
                              {"sign_offs", sign_offs_wanted(s)}});
        }
    }
    json releases = json::array();
    for (const auto& r : view.releases) {
        json per_stage = json::array();
        for (const auto& st : r.stages) {
            per_stage.push_back(stage_json(st));
        }
        releases.push_back({{"id", r.record.id},
                            {"short_id", r.record.id.substr(0, 12)},
                            {"name", r.record.document.name},
                            {"created_at", release::iso_time(r.record.created_at)},
                            {"created_at_ms", r.record.created_at},
                            {"created_by", r.record.created_by},
                            {"id_matches", r.id_matches},
                            {"reached", or_null(r.reached)},
                            {"changed", r.changed},
                            {"superseded_by", or_null(r.superseded_by)},
                            {"stages", per_stage}});
    }
    json doc{{"stages", stages}, {"releases", releases}};
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace shipshape::server
