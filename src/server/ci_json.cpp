// The JSON documents of the CI routes (ci_pipelines.hpp): nlohmann/json stays in this adapter
// file. Jobs' definitions are not sent (they are the worker's); results are parsed and sent as
// fields, never passed through as they are stored.
#include <nlohmann/json.hpp>

#include "app/ci_service.hpp"
#include "server/ci_pipelines.hpp"

namespace shipshape::server {

namespace {

using json = nlohmann::ordered_json;

// The most failed tests one job lists (the counts are always whole).
constexpr size_t k_failed_tests_shown = 100;

std::string dump(const json& doc) {
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

json job_json(const store::CiJob& j) {
    return json{{"id", j.id},
                {"name", j.name},
                {"status", j.status},
                {"labels", j.labels},
                {"worker", j.worker},
                {"attempts", j.attempts},
                {"cancel_requested", j.cancel_requested},
                {"run", j.run_id},
                {"failing", j.failing},
                {"detail", j.detail},
                {"queued_at_ms", j.queued_at},
                {"started_at_ms", j.started_at},
                {"finished_at_ms", j.finished_at}};
}

json pipeline_json(const store::CiPipeline& p) {
    json doc{{"id", p.id},
             {"repo", shown_repo(p.repo)},
             {"ref", p.ref},
             {"commit", p.commit},
             {"source", p.source},
             {"status", p.status},
             {"reason", p.reason},
             {"created_at_ms", p.created_at},
             {"updated_at_ms", p.updated_at}};
    const store::CiJob* failing = failing_job(p);
    doc["failing_job"] = failing ? json(failing->name) : json();
    return doc;
}

json results_json(const app::CiJobResult& r) {
    json failed = json::array();
    size_t failed_count = 0;
    for (const auto& t : r.tests.cases) {
        if (t.status != ci::TestStatus::failed && t.status != ci::TestStatus::error) {
            continue;
        }
        if (++failed_count > k_failed_tests_shown) {
            continue;
        }
        failed.push_back({{"name", ci::full_name(t)},
                          {"status", std::string(ci::test_status_name(t.status))},
                          {"message", t.message},
                          {"output", t.output},
                          {"seconds", t.seconds}});
    }
    json faults = json::array();
    for (const auto& f : r.faults) {
        faults.push_back({{"step", f.step}, {"fault", f.fault}, {"fired", f.fired}});
    }
    return json{{"tests",
                 {{"total", r.tests.cases.size()},
                  {"passed", r.tests.passed},
                  {"failed", r.tests.failed},
                  {"errors", r.tests.errors},
                  {"skipped", r.tests.skipped}}},
                {"failed_tests", failed},
                {"failed_steps", r.failed_steps},
                {"faults", faults},
                {"artifacts", r.artifacts}};
}

}  // namespace

std::string json_ci_pipelines(const std::vector<store::CiPipeline>& pipelines) {
    json list = json::array();
    for (const auto& p : pipelines) {
        json doc = pipeline_json(p);
        json jobs = json::array();
        for (const auto& j : p.jobs) {
            jobs.push_back(job_json(j));
        }
        doc["jobs"] = std::move(jobs);
        list.push_back(std::move(doc));
    }
    return dump(json{{"pipelines", list}});
}

std::string json_ci_pipeline(const store::CiPipeline& pipeline) {
    json doc = pipeline_json(pipeline);
    json jobs = json::array();
    for (const auto& j : pipeline.jobs) {
        json job = job_json(j);
        job["results"] = json();
        if (!j.results.empty()) {
            auto parsed = app::parse_ci_results(j.results);
            if (parsed) {
                job["results"] = results_json(*parsed);
            } else {
                job["results_error"] = parsed.error().message();
            }
        }
        jobs.push_back(std::move(job));
    }
    doc["jobs"] = std::move(jobs);
    return dump(doc);
}

std::string json_ci_cancelled(const store::CiPipeline& after, int64_t changed,
                              std::string_view by) {
    json jobs = json::array();
    for (const auto& j : after.jobs) {
        jobs.push_back(
            {{"name", j.name}, {"status", j.status}, {"cancel_requested", j.cancel_requested}});
    }
    return dump(json{{"pipeline", after.id},
                     {"status", after.status},
                     {"changed_jobs", changed},
                     {"by", std::string(by)},
                     {"jobs", jobs}});
}

}  // namespace shipshape::server
