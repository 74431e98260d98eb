// The nlohmann::json adapter for fault reports ("shipshape.fault-report/1").
#include <nlohmann/json.hpp>

#include "faults/sandbox.hpp"

namespace shipshape::faults {

namespace {

using nlohmann::json;

json fault_json(const Fault& f) {
    json j;
    j["kind"] = std::string(fault_kind_name(f.kind));
    j["value"] = format_fault_value(f);
    j["description"] = describe_fault(f);
    j["origin"] = f.origin;
    return j;
}

}  // namespace

std::string report_to_json(const Report& r) {
    json doc;
    doc["schema"] = "shipshape.fault-report/1";
    doc["setup_ms"] = r.setup.count();
    doc["teardown_ms"] = r.teardown.count();
    doc["user_namespace"] = r.user_namespace;
    doc["faults"] = json::array();
    for (const auto& o : r.faults) {
        json j = fault_json(o.fault);
        j["id"] = o.id;
        j["mechanism"] = o.mechanism;
        j["observable"] = o.observable;
        j["fired"] = o.fired;
        j["counts"] = json::object();
        for (const auto& [k, v] : o.counts) {
            j["counts"][k] = v;
        }
        j["active_ms"] = json::array();
        for (const auto& [a, b] : o.active_ms) {
            j["active_ms"].push_back(json::array({a, b < 0 ? json(nullptr) : json(b)}));
        }
        if (!o.note.empty()) {
            j["note"] = o.note;
        }
        doc["faults"].push_back(std::move(j));
    }
    doc["commands"] = json::array();
    for (const auto& c : r.commands) {
        json j;
        j["argv"] = c.argv;
        j["exit"] = c.kind == CommandExit::exited ? "exited" : "signaled";
        j["code"] = c.code;
        j["status"] = c.shell_status();
        j["oom_killed"] = c.oom_killed;
        j["elapsed_ms"] = c.elapsed.count();
        doc["commands"].push_back(std::move(j));
    }
    return doc.dump();
}

Result<Report> parse_report_json(std::string_view text) {
    try {
        json doc = json::parse(text);
        Report r;
        r.setup = Millis(doc.at("setup_ms").get<int64_t>());
        r.teardown = Millis(doc.at("teardown_ms").get<int64_t>());
        r.user_namespace = doc.at("user_namespace").get<bool>();
        for (const auto& j : doc.at("faults")) {
            FaultOutcome o;
            auto kind = parse_fault_kind(j.at("kind").get<std::string>());
            if (!kind) {
                return fail(Errc::invalid_argument, "fault report: unknown kind");
            }
            auto f = parse_fault_flag(*kind, j.at("value").get<std::string>());
            if (!f) {
                return fail(f.error().context("fault report"));
            }
            o.fault = *f;
            o.fault.origin = j.at("origin").get<std::string>();
            o.id = j.at("id").get<int>();
            o.mechanism = j.at("mechanism").get<std::string>();
            o.observable = j.at("observable").get<bool>();
            o.fired = j.at("fired").get<bool>();
            for (const auto& [k, v] : j.at("counts").items()) {
                o.counts.emplace_back(k, v.get<uint64_t>());
            }
            for (const auto& w : j.at("active_ms")) {
                o.active_ms.emplace_back(w.at(0).get<int64_t>(),
                                         w.at(1).is_null() ? -1 : w.at(1).get<int64_t>());
            }
            o.note = j.value("note", "");
            r.faults.push_back(std::move(o));
        }
        for (const auto& j : doc.at("commands")) {
            CommandOutcome c;
            c.argv = j.at("argv").get<std::vector<std::string>>();
            c.kind = j.at("exit").get<std::string>() == "signaled" ? CommandExit::signaled
                                                                   : CommandExit::exited;
            c.code = j.at("code").get<int>();
            c.oom_killed = j.at("oom_killed").get<bool>();
            c.elapsed = Millis(j.at("elapsed_ms").get<int64_t>());
            r.commands.push_back(std::move(c));
        }
        return r;
    } catch (const json::exception& e) {
        return fail(Errc::invalid_argument, std::string("fault report: ") + e.what());
    }
}

}  // namespace shipshape::faults
