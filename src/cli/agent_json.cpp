// The JSON lines of `agent pull --json` and `agent install-timer --json` (agent_cmds.hpp).
#include <nlohmann/json.hpp>

#include "app/pull.hpp"
#include "app/pull_reports.hpp"
#include "cli/agent_cmds.hpp"

namespace shipshape::cli {

std::string pull_cycle_json(const app::PullCycle& c) {
    auto doc = nlohmann::json::parse(app::to_json(c.report));
    doc.erase("facts");  // scripts read facts with `shipshape facts`; keep the line short
    doc["reported"] = c.reported;
    doc["report_error"] = c.report_error;
    doc["notes"] = c.notes;
    return doc.dump();
}

std::string timer_units_json(const std::string& service, const std::string& timer) {
    return nlohmann::json{{"service", service}, {"timer", timer}}.dump();
}

}  // namespace shipshape::cli
