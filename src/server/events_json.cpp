#include "server/events_json.hpp"

#include <nlohmann/json.hpp>

namespace shipshape::server {

namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& doc) {
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string json_run_event(std::string_view run, std::string_view status,
                           std::string_view checklist, std::string_view env) {
    return dump(json{{"run", run}, {"status", status}, {"checklist", checklist}, {"env", env}});
}

std::string json_step_event(std::string_view run, std::string_view step, std::string_view status,
                            const std::string* role) {
    return dump(json{{"run", run},
                     {"step", step},
                     {"status", status},
                     {"role", role ? json(*role) : json(nullptr)}});
}

std::string json_log_event(std::string_view run, std::string_view step, std::string_view line) {
    return dump(json{{"run", run}, {"step", step}, {"line", line}});
}

}  // namespace shipshape::server
