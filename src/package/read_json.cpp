// The one part of an embedded shipshape manifest the reader trusts: its requirements. The
// document is tokenised but only "format" and "requirements" are built (a 20,000-file manifest
// would otherwise cost a full parse for one small object).
#include <nlohmann/json.hpp>

#include "package/read.hpp"

namespace shipshape::package {

std::optional<EmbeddedRequirements> embedded_requirements(std::string_view manifest_json) {
    using json = nlohmann::json;
    std::string key;
    auto keep = [&key] { return key == "format" || key == "requirements"; };
    json::parser_callback_t filter = [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth == 0) {
            return true;
        }
        if (depth == 1 && event == json::parse_event_t::key) {
            key = parsed.is_string() ? parsed.get<std::string>() : std::string();
        }
        return keep();
    };
    json doc = json::parse(manifest_json, filter, false);
    if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != k_manifest_format) {
        return std::nullopt;
    }
    auto it = doc.find("requirements");
    if (it == doc.end() || !it->is_object()) {
        return std::nullopt;
    }
    auto path = it->find("path");
    auto text = it->find("text");
    if (path == it->end() || text == it->end() || !path->is_string() || !text->is_string()) {
        return std::nullopt;
    }
    return EmbeddedRequirements{path->get<std::string>(), text->get<std::string>()};
}

}  // namespace shipshape::package
