#include <nlohmann/json.hpp>

#include "fleet/protocol.hpp"

namespace shipshape::fleet {

namespace {

using json = nlohmann::json;

json parse(std::string_view line) {
    return json::parse(line, nullptr, false);
}

std::string dump(const json& doc) {
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string greeting_line(const AgentBinary& self, long long pid) {
    return dump(json{{"agent", "shipshape"},
                     {"protocol", k_protocol_version},
                     {"version", self.version},
                     {"hash", self.hash},
                     {"pid", pid}});
}

std::optional<std::string> request_id(std::string_view line) {
    auto doc = parse(line);
    if (doc.is_discarded() || !doc.is_object()) {
        return std::nullopt;
    }
    return doc.value("id", json(nullptr)).dump();
}

std::string reply_line(std::string_view reply, std::string_view id) {
    auto doc = parse(reply);
    if (doc.is_discarded() || !doc.is_object()) {
        doc = json{{"ok", false},
                   {"error", {{"code", "internal"}, {"message", "the agent built a bad reply"}}}};
    }
    auto id_doc = parse(id);
    doc["id"] = id_doc.is_discarded() ? json(nullptr) : id_doc;
    return dump(doc);
}

std::string output_event_line(std::string_view id, std::string_view data) {
    auto id_doc = parse(id);
    return dump(json{{"id", id_doc.is_discarded() ? json(nullptr) : id_doc},
                     {"event", "output"},
                     {"data", std::string(data)}});
}

std::string error_reply(const Error& error) {
    return dump(json{{"ok", false},
                     {"error", {{"code", errc_name(error.code())}, {"message", error.message()}}}});
}

std::string request_line(long long id, std::string_view request) {
    // Spliced, not parsed: a bundle request carries the whole ops repo.
    std::string line = "{\"id\":" + std::to_string(id);
    while (!request.empty() && request.front() != '{') {
        request.remove_prefix(1);
    }
    if (request.size() > 2) {
        line += ",";
        line += request.substr(1);
    } else {
        line += "}";
    }
    return line + "\n";
}

bool is_greeting(std::string_view line) {
    auto doc = parse(line);
    return !doc.is_discarded() && doc.is_object() && doc.value("agent", "") == "shipshape";
}

int greeting_protocol(std::string_view line) {
    auto doc = parse(line);
    if (doc.is_discarded() || !doc.is_object()) {
        return 1;
    }
    auto it = doc.find("protocol");
    return it != doc.end() && it->is_number_integer() ? it->get<int>() : 1;
}

Frame read_frame(std::string_view line) {
    auto doc = parse(line);
    if (doc.is_discarded() || !doc.is_object()) {
        return {};
    }
    Frame f;
    f.kind = doc.contains("event") ? FrameKind::event : FrameKind::reply;
    auto id = doc.find("id");
    if (id != doc.end() && id->is_number_integer()) {
        f.id = id->get<long long>();
    }
    return f;
}

std::optional<std::string> output_of_event(std::string_view line) {
    auto doc = parse(line);
    if (doc.is_discarded() || !doc.is_object() || doc.value("event", "") != "output") {
        return std::nullopt;
    }
    return doc.value("data", "");
}

Result<std::string> reply_result(std::string_view line) {
    auto doc = parse(line);
    if (doc.is_discarded() || !doc.is_object()) {
        return fail(Errc::io, "the agent's reply is not JSON");
    }
    if (doc.value("ok", false)) {
        return std::string(line);
    }
    const auto& e =
        doc.contains("error") && doc["error"].is_object() ? doc["error"] : json::object();
    auto code = parse_errc_name(e.value("code", "io")).value_or(Errc::io);
    return fail(code, e.value("message", "the agent refused the request"));
}

}  // namespace shipshape::fleet
