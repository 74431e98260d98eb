// The JSON error document every command prints with --json (json.hpp: json_error).
#include <nlohmann/json.hpp>

#include "cli/json.hpp"
#include "cli/json_internal.hpp"

namespace shipshape::cli {

using nlohmann::json;

namespace {

json lines_of(const std::string& text) {
    json arr = json::array();
    size_t start = 0;
    while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) {
            nl = text.size();
        }
        if (nl > start) {
            arr.push_back(text.substr(start, nl - start));
        }
        start = nl + 1;
    }
    return arr;
}

}  // namespace

std::string json_error(const Error& error, int exit_code) {
    return dump(json{{"kind", "error"},
                     {"error",
                      {{"code", errc_name(error.code())},
                       {"message", error.message()},
                       {"lines", lines_of(error.message())}}},
                     {"exit_code", exit_code}});
}

}  // namespace shipshape::cli
