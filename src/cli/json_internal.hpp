// What the JSON document writers (json.cpp, json_state.cpp, report.cpp) share. Included only by
// those .cpp files: it brings nlohmann/json.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace shipshape::cli {

// Pretty-printed, invalid UTF-8 replaced (command output may hold any bytes).
inline std::string dump(const nlohmann::json& j) {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace shipshape::cli
