// Pull reports (#20) as JSON (docs/specs/pull-report.md): parse_pull_report, to_json and the
// stored summaries. The only file of app/pull_reports that sees nlohmann::json.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "app/pull_reports.hpp"

namespace shipshape::app {

namespace {

using json = nlohmann::json;

std::string dump(const json& doc) {
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

tl::unexpected<Error> invalid(std::string_view field, std::string_view what) {
    return fail(Errc::invalid_argument, std::string(field) + ": " + std::string(what));
}

std::string type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::number_float:
            return "a fraction";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "a number";
        case json::value_t::string:
            return "a string";
        case json::value_t::array:
            return "an array";
        default:
            return "an object";
    }
}

std::string expected(std::string_view what, const json& v) {
    return "expected " + std::string(what) + ", not " + type_name(v);
}

// Refuses a key of `object` not among `known`, then a key of `known` it lacks.
template <size_t N>
Status check_keys(const json& object, const std::array<const char*, N>& known,
                  const std::string& prefix) {
    for (const auto& item : object.items()) {
        const std::string& key = item.key();
        if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
            std::string list;
            for (const char* k : known) {
                list += (list.empty() ? "" : ", ") + std::string(k);
            }
            std::string shown = json(key).dump(-1, ' ', true, json::error_handler_t::replace);
            return invalid(prefix + shown, "unknown key (known: " + list + ")");
        }
    }
    for (const char* k : known) {
        if (!object.contains(k)) {
            return invalid(prefix + k, "missing");
        }
    }
    return {};
}

Result<std::string> get_string(const json& object, const std::string& key,
                               const std::string& field) {
    const json& v = object.at(key);
    if (!v.is_string()) {
        return invalid(field, expected("a string", v));
    }
    return v.get<std::string>();
}

Result<int64_t> get_integer(const json& object, const std::string& key, const std::string& field) {
    const json& v = object.at(key);
    if (v.is_number_unsigned()) {
        if (v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return invalid(field, "out of range");
        }
        return static_cast<int64_t>(v.get<uint64_t>());
    }
    if (!v.is_number_integer()) {
        return invalid(field, expected("a whole number", v));
    }
    return v.get<int64_t>();
}

constexpr std::array<const char*, 14> k_top_keys = {
    "format",      "host",   "run",       "commit", "applied_commit", "branch", "started_at",
    "finished_at", "result", "exit_code", "error",  "apply",          "drift",  "facts"};
constexpr std::array<const char*, 3> k_apply_keys = {"resources", "changed", "failed"};
constexpr std::array<const char*, 2> k_drift_keys = {"drifted", "resources"};

Result<PullReport> read_report(const json& doc) {
    if (!doc.is_object()) {
        return invalid("pull report", expected("an object", doc));
    }
    if (auto st = check_keys(doc, k_top_keys, ""); !st) {
        return fail(st.error());
    }
    auto format = get_string(doc, "format", "format");
    if (!format) {
        return fail(format.error());
    }
    if (*format != k_pull_report_format) {
        return invalid("format", "'" + format->substr(0, 64) + "' is not " +
                                     std::string(k_pull_report_format));
    }
    PullReport r;
    for (auto [key, out] : {std::pair<const char*, std::string*>{"host", &r.host},
                            {"run", &r.run},
                            {"commit", &r.commit},
                            {"applied_commit", &r.applied_commit},
                            {"branch", &r.branch},
                            {"result", &r.result},
                            {"error", &r.error}}) {
        auto s = get_string(doc, key, key);
        if (!s) {
            return fail(s.error());
        }
        *out = std::move(*s);
    }
    for (auto [key, out] : {std::pair<const char*, int64_t*>{"started_at", &r.started_at},
                            {"finished_at", &r.finished_at}}) {
        auto n = get_integer(doc, key, key);
        if (!n) {
            return fail(n.error());
        }
        *out = *n;
    }
    auto code = get_integer(doc, "exit_code", "exit_code");
    if (!code) {
        return fail(code.error());
    }
    if (*code < 0 || *code > 255) {
        return invalid("exit_code", std::to_string(*code) + " is not 0, 1 or 2");
    }
    r.exit_code = static_cast<int>(*code);
    const json& apply = doc.at("apply");
    if (!apply.is_object()) {
        return invalid("apply", expected("an object", apply));
    }
    if (auto st = check_keys(apply, k_apply_keys, "apply."); !st) {
        return fail(st.error());
    }
    for (auto [key, out] : {std::pair<const char*, int64_t*>{"resources", &r.apply.resources},
                            {"changed", &r.apply.changed},
                            {"failed", &r.apply.failed}}) {
        auto n = get_integer(apply, key, std::string("apply.") + key);
        if (!n) {
            return fail(n.error());
        }
        *out = *n;
    }
    const json& drift = doc.at("drift");
    if (!drift.is_object()) {
        return invalid("drift", expected("an object", drift));
    }
    if (auto st = check_keys(drift, k_drift_keys, "drift."); !st) {
        return fail(st.error());
    }
    auto drifted = get_integer(drift, "drifted", "drift.drifted");
    if (!drifted) {
        return fail(drifted.error());
    }
    r.drifted = *drifted;
    const json& list = drift.at("resources");
    if (!list.is_array()) {
        return invalid("drift.resources", expected("an array", list));
    }
    for (size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_string()) {
            return invalid("drift.resources[" + std::to_string(i) + "]",
                           expected("a string", list[i]));
        }
        r.drift.push_back(list[i].get<std::string>());
    }
    const json& facts = doc.at("facts");
    if (!facts.is_null()) {
        if (!facts.is_object()) {
            return invalid("facts", expected("an object or null", facts));
        }
        auto schema = facts.find("schema");
        if (schema == facts.end() || !schema->is_string() ||
            schema->get<std::string>() != "shipshape.facts/1") {
            return invalid("facts.schema", "expected \"shipshape.facts/1\"");
        }
        r.facts = dump(facts);
    }
    if (auto st = check_pull_report(r); !st) {
        return fail(st.error());
    }
    return r;
}

json summary(const store::HostReportRecord& r) {
    return json{
        {"id", r.id},
        {"host", r.host},
        {"run", r.run},
        {"commit", r.commit},
        {"applied_commit", r.applied_commit},
        {"branch", r.branch},
        {"started_at", r.started_at},
        {"finished_at", r.finished_at},
        {"received_at", r.received_at},
        {"result", r.result},
        {"exit_code", r.exit_code},
        {"error", r.error},
        {"apply", {{"resources", r.resources}, {"changed", r.changed}, {"failed", r.failed}}},
        {"drift", {{"drifted", r.drifted}, {"resources", r.drift}}},
        {"facts_hash", r.facts_hash}};
}

}  // namespace

Result<PullReport> parse_pull_report(std::string_view text) {
    if (text.size() > k_max_pull_report) {
        return fail(Errc::invalid_argument, "pull report: " + std::to_string(text.size()) +
                                                " bytes, more than the 1 MiB a report may have");
    }
    json doc = json::parse(text.begin(), text.end(), nullptr, false);
    if (doc.is_discarded()) {
        // Parsed again, with exceptions, only to say where it went wrong.
        std::string why = "not JSON";
        try {
            const json again = json::parse(text.begin(), text.end());
            why = again.is_discarded() ? why : "not JSON";
        } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e999
            why = "not JSON: " + std::string(e.what());
        }
        return fail(Errc::invalid_argument, "pull report: " + why);
    }
    return read_report(doc);
}

std::string to_json(const PullReport& r) {
    json facts = nullptr;
    if (r.facts) {
        facts = json::parse(*r.facts, nullptr, false);
        if (facts.is_discarded()) {
            facts = nullptr;
        }
    }
    // nlohmann's object keeps keys sorted; the spec's order is written by hand instead.
    std::string out = "{\"format\":" + dump(json(k_pull_report_format));
    auto add = [&out](const char* key, const json& value) {
        out += ",\"";
        out += key;
        out += "\":";
        out += dump(value);
    };
    add("host", r.host);
    add("run", r.run);
    add("commit", r.commit);
    add("applied_commit", r.applied_commit);
    add("branch", r.branch);
    add("started_at", r.started_at);
    add("finished_at", r.finished_at);
    add("result", r.result);
    add("exit_code", r.exit_code);
    add("error", r.error);
    out += ",\"apply\":{\"resources\":" + std::to_string(r.apply.resources) +
           ",\"changed\":" + std::to_string(r.apply.changed) +
           ",\"failed\":" + std::to_string(r.apply.failed) + "}";
    out += ",\"drift\":{\"drifted\":" + std::to_string(r.drifted) +
           ",\"resources\":" + dump(json(r.drift)) + "}";
    add("facts", facts);
    out += "}";
    return out;
}

std::string report_summary_json(const store::HostReportRecord& record) {
    return dump(summary(record));
}

std::string report_summaries_json(const std::vector<store::HostReportRecord>& records) {
    json list = json::array();
    for (const auto& r : records) {
        list.push_back(summary(r));
    }
    return dump(list);
}

}  // namespace shipshape::app
