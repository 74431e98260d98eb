// The JSON documents of the dashboard's read routes (board.hpp, environments.hpp,
// history.hpp): nlohmann/json stays in this adapter file.
#include <nlohmann/json.hpp>

#include "server/board.hpp"
#include "server/environments.hpp"
#include "server/history.hpp"

namespace shipshape::server {

namespace {

using json = nlohmann::ordered_json;

json optional_int(const std::optional<int64_t>& v) {
    return v ? json(*v) : json();
}

}  // namespace

std::string json_board(const Board& board) {
    json columns = json::array();
    for (const auto& col : board.columns) {
        json cards = json::array();
        for (const auto& c : col.cards) {
            if (c.kind == "ci") {
                cards.push_back({{"kind", c.kind},
                                 {"pipeline", c.pipeline},
                                 {"ref", c.ref},
                                 {"commit", c.commit},
                                 {"job", c.job},
                                 {"failing", c.failing},
                                 {"detail", c.detail},
                                 {"run", c.run},
                                 {"status", c.status},
                                 {"started_at_ms", c.started_at_ms},
                                 {"updated_at_ms", c.updated_at_ms}});
                continue;
            }
            json card{{"run", c.run},
                      {"checklist", c.checklist},
                      {"env", c.env},
                      {"status", c.status},
                      {"user", c.user},
                      {"started_at_ms", c.started_at_ms},
                      {"updated_at_ms", c.updated_at_ms}};
            if (!c.step.empty()) {
                card["step"] = c.step;
            }
            if (!c.role.empty()) {
                card["role"] = c.role;
            }
            card["kind"] = c.kind;
            cards.push_back(std::move(card));
        }
        columns.push_back({{"name", col.name}, {"count", col.count}, {"cards", cards}});
    }
    json doc{{"columns", columns},
             {"runs_considered", board.runs_considered},
             {"scan_limit", k_board_scan}};
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string json_environments(const EnvironmentsView& view) {
    json hosts = json::array();
    for (const auto& h : view.hosts) {
        hosts.push_back({{"host", h.host},
                         {"env", h.env},
                         {"version", h.version},
                         {"version_source", h.version_source},
                         {"facts_at_ms", optional_int(h.facts_at_ms)},
                         {"facts_age_s", optional_int(h.facts_age_s)},
                         {"drift", h.drift},
                         {"drift_at_ms", optional_int(h.drift_at_ms)},
                         {"requirements", h.requirements},
                         {"requirements_detail", h.requirements_detail}});
    }
    json doc{{"project", view.project}, {"environments", view.environments}, {"hosts", hosts}};
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string json_history(const History& h) {
    json lists = json::array();
    for (const auto& c : h.checklists) {
        json days = json::array();
        for (const auto& d : c.days) {
            days.push_back({{"day", d.day},
                            {"runs", d.runs},
                            {"failures", d.failures},
                            {"p50_ms", optional_int(d.p50_ms)},
                            {"max_ms", optional_int(d.max_ms)}});
        }
        lists.push_back({{"checklist", c.checklist}, {"days", days}});
    }
    json doc{{"from", h.from}, {"to", h.to}, {"days", h.days}, {"checklists", lists}};
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace shipshape::server
