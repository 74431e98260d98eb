// How CI pipelines look: the JSON documents of `ci status`, `ci run --json` and `ci worker`, and
// their text for people (ci_view.cpp, ci_json.cpp).
#pragma once

#include <string>
#include <vector>

#include "app/ci_service.hpp"
#include "store/ci.hpp"

namespace shipshape::cli {

// {"pipeline": ID, "status", "repo", "ref", "commit", "source", "reason", "created_at",
//  "jobs": [{"id", "name", "status", "failing", "detail", "run_id", "worker", "attempts",
//            "tests": {...}, "failed_tests": [...], "faults": [...], "artifacts": [...]}]}
std::string json_ci_pipeline(const store::CiPipeline& pipeline);
std::string json_ci_pipelines(const std::vector<store::CiPipeline>& pipelines);
std::string json_ci_local(const app::CiLocalReport& report);

// A pipeline for people: a header line and one line per job, its failing step or test named.
std::string format_ci_pipeline(const store::CiPipeline& pipeline, bool color);
// The closing summary of `ci run`.
std::string format_ci_local(const app::CiLocalReport& report, bool color);

}  // namespace shipshape::cli
