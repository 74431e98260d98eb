// The JSON documents of `ci status`, `ci run --json` (ci_view.hpp).
#include <nlohmann/json.hpp>

#include "cli/ci_view.hpp"

namespace shipshape::cli {

namespace {

using nlohmann::json;

json results_json(const app::CiJobResult& r) {
    json j;
    j["tests"] = {{"passed", r.tests.passed},
                  {"failed", r.tests.failed},
                  {"errors", r.tests.errors},
                  {"skipped", r.tests.skipped}};
    j["failed_tests"] = json::array();
    for (const auto& t : r.tests.cases) {
        if (t.status == ci::TestStatus::failed || t.status == ci::TestStatus::error) {
            j["failed_tests"].push_back({{"name", ci::full_name(t)}, {"message", t.message}});
        }
    }
    j["failed_steps"] = r.failed_steps;
    j["faults"] = json::array();
    for (const auto& f : r.faults) {
        j["faults"].push_back({{"step", f.step}, {"fault", f.fault}, {"fired", f.fired}});
    }
    j["artifacts"] = r.artifacts;
    return j;
}

json job_json(const store::CiJob& job) {
    json j{{"id", job.id},
           {"name", job.name},
           {"status", job.status},
           {"failing", job.failing},
           {"detail", job.detail},
           {"run_id", job.run_id},
           {"worker", job.worker},
           {"attempts", job.attempts},
           {"queued_at", job.queued_at},
           {"started_at", job.started_at},
           {"finished_at", job.finished_at}};
    if (!job.results.empty()) {
        if (auto r = app::parse_ci_results(job.results)) {
            j.update(results_json(*r));
        }
    }
    return j;
}

json pipeline_json(const store::CiPipeline& p) {
    json j{{"pipeline", p.id},     {"status", p.status},         {"repo", p.repo},
           {"ref", p.ref},         {"commit", p.commit},         {"source", p.source},
           {"reason", p.reason},   {"created_at", p.created_at}, {"updated_at", p.updated_at},
           {"jobs", json::array()}};
    for (const auto& job : p.jobs) {
        j["jobs"].push_back(job_json(job));
    }
    return j;
}

}  // namespace

std::string json_ci_pipeline(const store::CiPipeline& pipeline) {
    return pipeline_json(pipeline).dump(2) + "\n";
}

std::string json_ci_pipelines(const std::vector<store::CiPipeline>& pipelines) {
    json j = json::array();
    for (const auto& p : pipelines) {
        j.push_back(pipeline_json(p));
    }
    return j.dump(2) + "\n";
}

std::string json_ci_local(const app::CiLocalReport& report) {
    json j{{"pipeline", report.pipeline_id},
           {"status", report.passed() ? "passed" : "failed"},
           {"tree", report.tree},
           {"repo", report.top},
           {"notes", report.notes},
           {"jobs", json::array()}};
    for (const auto& job : report.jobs) {
        json one{{"name", job.job.name},
                 {"status", job.result.status},
                 {"failing", job.result.failing},
                 {"detail", job.result.detail},
                 {"run_id", job.result.run_id}};
        one.update(results_json(job.result));
        j["jobs"].push_back(std::move(one));
    }
    return j.dump(2) + "\n";
}

}  // namespace shipshape::cli
