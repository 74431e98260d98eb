// The JSON data of the event stream's frames (events.hpp); nlohmann/json stays in
// events_json.cpp. Compact (one line), bytes that are not valid UTF-8 become U+FFFD.
#pragma once

#include <string>
#include <string_view>

namespace shipshape::server {

std::string json_run_event(std::string_view run, std::string_view status,
                           std::string_view checklist, std::string_view env);
// `role`: nullptr writes null.
std::string json_step_event(std::string_view run, std::string_view step, std::string_view status,
                            const std::string* role);
std::string json_log_event(std::string_view run, std::string_view step, std::string_view line);

}  // namespace shipshape::server
