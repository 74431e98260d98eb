// The pure parts of CI (ci_service.hpp): post-receive lines, the pipeline a commit's CI file
// makes, the job and results JSON, the note, and the sandbox's container.
#include <gtest/gtest.h>

#include "app/ci_service.hpp"

namespace shipshape::app {
namespace {

TEST(CiPostReceive, ReadsOldNewRefLinesAndDropsMalformedOnes) {
    auto pushes = parse_post_receive(
        "0000000000000000000000000000000000000000 1111111111111111111111111111111111111111 "
        "refs/heads/main\n"
        "only two\n"                  // too few fields: left out
        "\n"                          // blank: left out
        "aaaa bbbb refs/tags/v1\r\n"  // CR tolerated
        "a b c d\n");                 // too many fields: left out
    ASSERT_EQ(pushes.size(), 2u);
    EXPECT_EQ(pushes[0].ref, "refs/heads/main");
    EXPECT_EQ(pushes[0].new_id, std::string(40, '1'));
    EXPECT_EQ(pushes[1].old_id, "aaaa");
    EXPECT_EQ(pushes[1].ref, "refs/tags/v1");
}

TEST(CiPipeline, NoFileNoPipeline) {
    EXPECT_FALSE(make_ci_pipeline(std::nullopt, "/r.git", {"a", "b", "refs/heads/x"}, 1));
}

TEST(CiPipeline, JobsFromTheFileQueuedWithTheirDefinitions) {
    auto p = make_ci_pipeline(std::string("[job.unit]\nchecklist = \"ci/u.toml\"\n"
                                          "labels = [\"linux\"]\n"
                                          "[job.lint]\nchecklist = \"ci/l.toml\"\n"),
                              "/r.git", {"0", "abc", "refs/heads/main"}, 42);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status, "queued");
    EXPECT_EQ(p->commit, "abc");
    EXPECT_EQ(p->source, "hook");
    EXPECT_EQ(p->created_at, 42);
    ASSERT_EQ(p->jobs.size(), 2u);
    EXPECT_EQ(p->jobs[0].name, "unit");
    EXPECT_EQ(p->jobs[0].labels, std::vector<std::string>{"linux"});
    auto job = parse_ci_job(p->jobs[0].definition);
    ASSERT_TRUE(job) << job.error().message();
    EXPECT_EQ(job->checklist, "ci/u.toml");
    EXPECT_EQ(job->image, "host");
}

TEST(CiPipeline, AnInvalidFileIsAFailedPipelineWithThePosition) {
    auto p = make_ci_pipeline(std::string("[job.unit]\nchecklist = 3\n"), "/r.git",
                              {"0", "abc", "refs/heads/main"}, 1);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status, "failed");
    EXPECT_TRUE(p->jobs.empty());
    EXPECT_NE(p->reason.find(".shipshape-ci.toml:2:"), std::string::npos) << p->reason;
}

TEST(CiJson, JobRoundTrips) {
    ci::Job job;
    job.name = "test[image=prod]";
    job.base_name = "test";
    job.checklist = "ci/t.toml";
    job.image = "prod";
    job.faults = "ci/f.toml";
    job.artifacts = {"a/*.xml", "b"};
    job.junit = "r/*.xml";
    job.labels = {"x"};
    job.params = {{"mode", "release"}};
    job.network = ci::JobNetwork::host;
    job.timeout = Millis(60000);
    auto back = parse_ci_job(ci_job_json(job));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->name, job.name);
    EXPECT_EQ(back->base_name, "test");
    EXPECT_EQ(back->image, "prod");
    EXPECT_EQ(back->faults, "ci/f.toml");
    EXPECT_EQ(back->artifacts, job.artifacts);
    EXPECT_EQ(back->params, job.params);
    EXPECT_EQ(back->network, ci::JobNetwork::host);
    EXPECT_EQ(back->timeout, Millis(60000));
    EXPECT_FALSE(parse_ci_job("{\"name\": 3}"));
}

TEST(CiJson, ResultsRoundTrip) {
    CiJobResult r;
    r.status = "failed";
    r.failing = "test calc.test_add";
    r.run_id = "20261207-000000-abcd";
    ci::TestCase t;
    t.classname = "calc";
    t.name = "test_add";
    t.status = ci::TestStatus::failed;
    t.message = "boom";
    r.tests.cases.push_back(t);
    r.tests.failed = 1;
    r.faults.push_back({"fill", "a full disk", true});
    r.artifacts = {"1/test/x.xml"};
    auto back = parse_ci_results(ci_results_json(r));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->failing, r.failing);
    EXPECT_EQ(back->tests.failed, 1u);
    ASSERT_EQ(back->tests.cases.size(), 1u);
    EXPECT_EQ(ci::full_name(back->tests.cases[0]), "calc.test_add");
    EXPECT_EQ(back->tests.cases[0].status, ci::TestStatus::failed);
    ASSERT_EQ(back->faults.size(), 1u);
    EXPECT_TRUE(back->faults[0].fired);
    EXPECT_EQ(back->artifacts, r.artifacts);
}

TEST(CiNote, SaysThePipelineAndEachJob) {
    store::CiPipeline p;
    p.id = 7;
    p.status = "failed";
    store::CiJob a;
    a.name = "unit";
    a.status = "failed";
    a.failing = "test calc.test_add";
    store::CiJob b;
    b.name = "lint";
    b.status = "passed";
    b.failing = "ignored when passed";
    p.jobs = {a, b};
    EXPECT_EQ(ci_note_text(p),
              "shipshape-ci: failed (pipeline 7)\n"
              "  unit: failed at test calc.test_add\n"
              "  lint: passed\n");
}

TEST(CiSandbox, HostRootReadOnlyWorkspaceWritableAtItsOwnPath) {
    CiSandboxOptions o;
    o.workspace = "/w/ws/1";
    o.argv = {"make", "test"};
    o.env = {"A=1"};
    o.cwd = "/w/ws/1/sub";
    auto spec = ci_sandbox_spec(o, {"/"});
    EXPECT_EQ(spec.lower_dirs, std::vector<std::string>{"/"});
    EXPECT_TRUE(spec.upper_dir.empty());  // a tmpfs: writes outside the workspace vanish
    ASSERT_EQ(spec.binds.size(), 1u);
    EXPECT_EQ(spec.binds[0].source, "/w/ws/1");
    EXPECT_EQ(spec.binds[0].destination, "/w/ws/1");
    EXPECT_FALSE(spec.binds[0].read_only);
    EXPECT_EQ(spec.cwd, "/w/ws/1/sub");
    EXPECT_EQ(spec.network, os::ContainerNetwork::none);
    EXPECT_EQ(spec.env, o.env);
    // In an image, a directory outside the workspace may not exist: the workspace instead.
    o.image = "prod";
    o.cwd = "/home/dev";
    EXPECT_EQ(ci_sandbox_spec(o, {"/img/layer", "/img/base"}).cwd, "/w/ws/1");
    // The job's /tmp is bound before the workspace, which may lie below /tmp.
    o.tmp_dir = "/w/runs/r/tmp";
    auto with_tmp = ci_sandbox_spec(o, {"/"});
    ASSERT_EQ(with_tmp.binds.size(), 2u);
    EXPECT_EQ(with_tmp.binds[0].destination, "/tmp");
    EXPECT_EQ(with_tmp.binds[1].destination, "/w/ws/1");
}

}  // namespace
}  // namespace shipshape::app
