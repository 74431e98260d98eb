// The JSON documents of the API (nlohmann/json stays in api_json.cpp). Every string is written
// as UTF-8; bytes that are not valid UTF-8 (a log can hold anything) become U+FFFD.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/runs.hpp"
#include "server/api.hpp"

namespace shipshape::server {

std::string json_error(std::string_view message);
// `schema_version`: the store's, when it answered.
std::string json_health(const ServerInfo& info, std::string_view status, std::string_view detail,
                        std::optional<int64_t> schema_version);
std::string json_run_list(const std::vector<store::RunRecord>& runs);
std::string json_run_detail(const app::RunDetails& details);
std::string json_step_log(std::string_view run_id, std::string_view step_id, std::string_view text);

}  // namespace shipshape::server
