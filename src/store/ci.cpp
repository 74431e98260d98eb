// The CI queue's pure part (store/ci.hpp): a pipeline's status from its jobs', and labels.
#include "store/ci.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace shipshape::store {

std::string ci_pipeline_status(const std::vector<CiJob>& jobs) {
    size_t queued = 0;
    size_t cancelled = 0;
    bool running = false;
    bool failed = false;
    for (const auto& j : jobs) {
        if (j.status == "running") {
            running = true;
        } else if (j.status == "queued") {
            ++queued;
        } else if (j.status == "cancelled") {
            ++cancelled;
        } else if (j.status != "passed") {
            failed = true;
        }
    }
    if (running || (queued > 0 && queued < jobs.size())) {
        return "running";
    }
    if (queued > 0) {
        return "queued";
    }
    if (!jobs.empty() && cancelled == jobs.size()) {
        return "cancelled";
    }
    return failed || cancelled > 0 ? "failed" : "passed";
}

bool ci_labels_match(const std::vector<std::string>& job_labels,
                     const std::vector<std::string>& worker_labels) {
    return std::all_of(job_labels.begin(), job_labels.end(), [&](const std::string& l) {
        return std::find(worker_labels.begin(), worker_labels.end(), l) != worker_labels.end();
    });
}

Status check_ci_pipeline(const CiPipeline& pipeline) {
    if (!pipeline.reason.empty()) {
        return {};  // its jobs are not written
    }
    std::set<std::string> names;
    for (const auto& j : pipeline.jobs) {
        if (j.name.empty()) {
            return fail(Errc::invalid_argument, "a CI job needs a name");
        }
        if (!names.insert(j.name).second) {
            return fail(Errc::invalid_argument, "two CI jobs are named '" + j.name + "'");
        }
        for (const auto& l : j.labels) {
            if (l.empty() || l.find(',') != std::string::npos) {
                return fail(Errc::invalid_argument, "CI job '" + j.name + "' has the label '" + l +
                                                        "': labels are not empty and hold "
                                                        "no comma");
            }
        }
    }
    return {};
}

std::string ci_lost_detail(int attempts, bool cancel_requested) {
    const std::string lost =
        "its worker was lost " + std::to_string(attempts) + (attempts == 1 ? " time" : " times");
    return cancel_requested ? "cancelled, and " + lost : lost;
}

}  // namespace shipshape::store
