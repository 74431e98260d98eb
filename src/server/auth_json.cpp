#include "server/auth_json.hpp"

#include <nlohmann/json.hpp>

#include "core/text.hpp"

namespace shipshape::server {

namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& doc) {
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Result<CheckOffBody> parse_check_off_body(std::string_view body) {
    CheckOffBody out;
    if (body.empty()) {
        return out;
    }
    // No exceptions: a parse error yields a discarded value.
    json doc = json::parse(body.begin(), body.end(), nullptr, false);
    if (doc.is_discarded()) {
        return fail(Errc::invalid_argument, "the body is not valid JSON");
    }
    if (!doc.is_object()) {
        return fail(Errc::invalid_argument,
                    "the body must be a JSON object such as {\"note\": \"...\"}");
    }
    for (const auto& [key, value] : doc.items()) {
        if (key != "note") {
            return fail(Errc::invalid_argument, "unknown field '" +
                                                    escape_control(key.substr(0, 64)) +
                                                    "' (the only field is \"note\")");
        }
        if (!value.is_string()) {
            return fail(Errc::invalid_argument, "\"note\" must be a string");
        }
        out.note = value.get<std::string>();
    }
    if (out.note.size() > k_max_note) {
        return fail(Errc::invalid_argument, "the note is " + std::to_string(out.note.size()) +
                                                " bytes long; the limit is " +
                                                std::to_string(k_max_note));
    }
    if (auto problem = find_control_character(out.note, LineBreaks::allowed); !problem.empty()) {
        return fail(Errc::invalid_argument,
                    "the note is refused: " + problem +
                        "; notes may span lines (newline and tab are kept) but may not contain "
                        "other control characters");
    }
    return out;
}

std::string json_me(const app::Identity& who) {
    return dump(json{{"user", who.user}, {"roles", who.roles}});
}

std::string json_check_off_done(const store::CheckOff& c) {
    return dump(json{{"run", c.run_id},
                     {"step", c.step_id},
                     {"role", c.role},
                     {"by", c.by},
                     {"note", c.note},
                     {"at_ms", c.at}});
}

}  // namespace shipshape::server
