// The CI queue's pure part (store/ci.hpp): a pipeline's status from its jobs', and labels.
#include "store/ci.hpp"

#include <algorithm>
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

}  // namespace shipshape::store
