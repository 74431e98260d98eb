// The CI queue's pure part (store/ci.hpp): a pipeline's status from its jobs', and labels.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/ci.hpp"

namespace shipshape::store {
namespace {

std::vector<CiJob> jobs(const std::vector<std::string>& statuses) {
    std::vector<CiJob> out;
    out.reserve(statuses.size());
    for (const auto& s : statuses) {
        CiJob j;
        j.status = s;
        out.push_back(j);
    }
    return out;
}

TEST(CiPipelineStatus, FollowsTheTable) {
    const struct {
        std::vector<std::string> jobs;
        std::string want;
    } k_cases[] = {
        {{}, "passed"},
        {{"queued"}, "queued"},
        {{"queued", "queued"}, "queued"},
        {{"running"}, "running"},
        {{"queued", "running"}, "running"},
        {{"passed", "queued"}, "running"},  // some finished, some wait
        {{"failed", "queued"}, "running"},
        {{"cancelled", "queued"}, "running"},
        {{"passed", "running"}, "running"},
        {{"failed", "running"}, "running"},
        {{"passed"}, "passed"},
        {{"passed", "passed"}, "passed"},
        {{"passed", "failed"}, "failed"},
        {{"failed"}, "failed"},
        {{"passed", "cancelled"}, "failed"},
        {{"cancelled"}, "cancelled"},
        {{"cancelled", "cancelled"}, "cancelled"},
        {{"cancelled", "failed"}, "failed"},
    };
    for (const auto& c : k_cases) {
        std::string names;
        for (const auto& s : c.jobs) {
            names += s + " ";
        }
        EXPECT_EQ(ci_pipeline_status(jobs(c.jobs)), c.want) << "jobs: " << names;
    }
}

TEST(CiLabels, AWorkerNeedsEveryLabelOfTheJob) {
    EXPECT_TRUE(ci_labels_match({}, {}));
    EXPECT_TRUE(ci_labels_match({}, {"linux"}));
    EXPECT_TRUE(ci_labels_match({"linux"}, {"gpu", "linux"}));
    EXPECT_TRUE(ci_labels_match({"linux", "gpu"}, {"gpu", "linux"}));
    EXPECT_FALSE(ci_labels_match({"linux", "gpu"}, {"linux"}));
    EXPECT_FALSE(ci_labels_match({"gpu"}, {}));
}

}  // namespace
}  // namespace shipshape::store
