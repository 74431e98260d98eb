// The nlohmann::json adapter of CI records (ci_service.hpp): a job's definition and its results
// as the queue keeps them, and the fault reports shipshape-fault writes.
#include <nlohmann/json.hpp>

#include "app/ci_service.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

namespace {

using nlohmann::json;

std::optional<ci::TestStatus> parse_test_status(std::string_view s) {
    for (auto st : {ci::TestStatus::passed, ci::TestStatus::failed, ci::TestStatus::error,
                    ci::TestStatus::skipped}) {
        if (ci::test_status_name(st) == s) {
            return st;
        }
    }
    return std::nullopt;
}

// j[key] when it is there, else null (iterating a null visits nothing): no temporaries.
const json& member(const json& j, const char* key) {
    static const json k_null;
    auto it = j.find(key);
    return it == j.end() ? k_null : *it;
}

}  // namespace

std::string ci_job_json(const ci::Job& job) {
    json j;
    j["name"] = job.name;
    j["base_name"] = job.base_name;
    j["checklist"] = job.checklist;
    j["image"] = job.image;
    j["faults"] = job.faults;
    j["requirements"] = job.requirements;
    j["artifacts"] = job.artifacts;
    j["junit"] = job.junit;
    j["labels"] = job.labels;
    j["params"] = json::object();
    for (const auto& [k, v] : job.params) {
        j["params"][k] = v;
    }
    j["network"] = job.network == ci::JobNetwork::host ? "host" : "none";
    j["timeout_ms"] = job.timeout.count();
    return j.dump();
}

Result<ci::Job> parse_ci_job(std::string_view text) {
    try {
        auto j = json::parse(text);
        ci::Job job;
        job.name = j.at("name").get<std::string>();
        job.base_name = j.value("base_name", job.name);
        job.checklist = j.at("checklist").get<std::string>();
        job.image = j.value("image", std::string(ci::k_host_image));
        job.faults = j.value("faults", "");
        job.requirements = j.value("requirements", "");
        job.artifacts = j.value("artifacts", std::vector<std::string>{});
        job.junit = j.value("junit", "");
        job.labels = j.value("labels", std::vector<std::string>{});
        for (const auto& [k, v] : member(j, "params").items()) {
            job.params.emplace_back(k, v.get<std::string>());
        }
        job.network =
            j.value("network", "none") == "host" ? ci::JobNetwork::host : ci::JobNetwork::none;
        job.timeout = Millis(j.value("timeout_ms", int64_t{0}));
        return job;
    } catch (const json::exception& e) {
        return tl::unexpected(
            Error(Errc::invalid_definition, std::string("a queued job's definition: ") + e.what()));
    }
}

std::string ci_results_json(const CiJobResult& r) {
    json j;
    j["status"] = r.status;
    j["failing"] = r.failing;
    j["detail"] = r.detail;
    j["run_id"] = r.run_id;
    j["failed_steps"] = r.failed_steps;
    j["tests"] = {{"passed", r.tests.passed},
                  {"failed", r.tests.failed},
                  {"errors", r.tests.errors},
                  {"skipped", r.tests.skipped},
                  {"cases", json::array()}};
    for (const auto& t : r.tests.cases) {
        json c{{"name", ci::full_name(t)}, {"status", ci::test_status_name(t.status)}};
        if (!t.message.empty()) {
            c["message"] = t.message;
        }
        c["seconds"] = t.seconds;
        j["tests"]["cases"].push_back(std::move(c));
    }
    j["faults"] = json::array();
    for (const auto& f : r.faults) {
        j["faults"].push_back({{"step", f.step}, {"fault", f.fault}, {"fired", f.fired}});
    }
    j["artifacts"] = r.artifacts;
    return j.dump();
}

Result<CiJobResult> parse_ci_results(std::string_view text) {
    try {
        auto j = json::parse(text);
        CiJobResult r;
        r.status = j.value("status", "");
        r.failing = j.value("failing", "");
        r.detail = j.value("detail", "");
        r.run_id = j.value("run_id", "");
        r.failed_steps = j.value("failed_steps", std::vector<std::string>{});
        const json& tests = member(j, "tests");
        if (tests.is_object()) {
            r.tests.passed = tests.value("passed", size_t{0});
            r.tests.failed = tests.value("failed", size_t{0});
            r.tests.errors = tests.value("errors", size_t{0});
            r.tests.skipped = tests.value("skipped", size_t{0});
        }
        for (const auto& c : member(tests, "cases")) {
            ci::TestCase t;
            std::string name = c.value("name", "");
            auto dot = name.rfind('.');
            t.classname = dot == std::string::npos ? "" : name.substr(0, dot);
            t.name = dot == std::string::npos ? name : name.substr(dot + 1);
            t.status =
                parse_test_status(c.value("status", "passed")).value_or(ci::TestStatus::passed);
            t.message = c.value("message", "");
            t.seconds = c.value("seconds", 0.0);
            r.tests.cases.push_back(std::move(t));
        }
        for (const auto& f : member(j, "faults")) {
            r.faults.push_back(
                {f.value("step", ""), f.value("fault", ""), f.value("fired", false)});
        }
        r.artifacts = j.value("artifacts", std::vector<std::string>{});
        return r;
    } catch (const json::exception& e) {
        return tl::unexpected(
            Error(Errc::invalid_definition, std::string("a job's results: ") + e.what()));
    }
}

std::vector<CiFaultRow> parse_fault_report_rows(const std::string& path) {
    std::vector<CiFaultRow> rows;
    auto text = os::read_whole_file(path);
    if (!text) {
        return rows;
    }
    std::string step = path.substr(path.rfind('/') + 1);
    if (auto dash = step.find('-'); dash != std::string::npos) {
        step = step.substr(dash + 1);
    }
    if (step.ends_with(".json")) {
        step.resize(step.size() - 5);
    }
    try {
        auto j = json::parse(*text);
        for (const auto& f : member(j, "faults")) {
            rows.push_back({step, f.value("description", ""), f.value("fired", false)});
        }
    } catch (const json::exception&) {
        rows.push_back({step, "(unreadable fault report " + path + ")", false});
    }
    return rows;
}

}  // namespace shipshape::app
