// The CI routes of the Api (api_ci.cpp) and the board's CI cards (ci_pipelines.cpp), read as
// their JSON documents (hence the name: nlohmann/json parses them here), over a
// real SQLite store whose queue is filled as workers fill it.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/ci_service.hpp"
#include "app/users.hpp"
#include "server/api.hpp"
#include "server/ci_pipelines.hpp"

namespace shipshape::server {
namespace {

using json = nlohmann::json;

const std::string k_main = std::string(40, 'a');
const std::string k_feature = "b" + std::string(39, 'c');
const std::string k_older = "d" + std::string(39, 'e');
const std::string k_evil = "<img src=x onerror=alert(1)>";

class CiApiTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-ci-api-XXXXXX";
        dir = ::mkdtemp(tmpl);
        project.root = dir;
        auto s = store::open_store(dir + "/state.db");
        ASSERT_TRUE(s) << s.error().message();
        db = std::move(*s);
        runner = os::make_process_runner();
        auto c = os::CancelSource::create();
        ASSERT_TRUE(c);
        cancel.emplace(std::move(*c));
        api = std::make_unique<Api>(project, *db, *runner, *cancel, ServerInfo{"9.9.9", "sqlite"});
        app::UserService users(*db);
        ASSERT_TRUE(users.add_user("dana", {"dev"}));
        ASSERT_TRUE(users.add_user("quinn", {"qa"}));
        dev_token = *users.issue_token("dana");
        qa_token = *users.issue_token("quinn");
        // main: an older pipeline passed, the newest failed (a test); feature: passed; and a
        // pipeline of a branch still queued.
        older = pipeline("refs/heads/main", k_older, {{"test", "passed"}}, 100);
        failed =
            pipeline("refs/heads/main", k_main, {{"build", "passed"}, {k_evil, "failed"}}, 200);
        passed = pipeline("refs/heads/feature", k_feature, {{"test", "passed"}}, 300);
        queued = pipeline("refs/heads/wip", k_feature, {{"test", ""}}, 400);
    }
    void TearDown() override {
        api.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
    // Enqueues a pipeline whose jobs end as given ("" : left queued), as a worker ends them.
    int64_t pipeline(const std::string& ref, const std::string& commit,
                     const std::vector<std::pair<std::string, std::string>>& jobs, int64_t at) {
        store::CiPipeline p;
        p.repo = "https://bot:s3cret@git.example.org/app.git";
        p.ref = ref;
        p.commit = commit;
        p.source = "hook";
        p.created_at = at;
        for (const auto& [name, status] : jobs) {
            store::CiJob j;
            j.name = name;
            j.definition = "{}";
            j.queued_at = at;
            p.jobs.push_back(j);
        }
        auto id = db->enqueue_ci_pipeline(p);
        EXPECT_TRUE(id) << id.error().message();
        for (const auto& [name, status] : jobs) {
            if (status.empty()) {
                continue;
            }
            auto job = db->claim_ci_job(store::CiClaim{"w1", {}, at + 1, 30000, 3});
            EXPECT_TRUE(job && *job);
            std::string run = "run-" + std::to_string(*id) + "-" + std::to_string((*job)->id);
            EXPECT_TRUE(db->set_ci_job_run((*job)->id, "w1", run));
            app::CiJobResult r;
            r.status = status;
            r.run_id = run;
            if (status == "failed") {
                r.failing = "test calc.test_add";
                r.detail = "add(2, 3) should be 5, got -1";
                ci::TestCase t;
                t.suite = "calc";
                t.classname = "calc";
                t.name = "test_add";
                t.status = ci::TestStatus::failed;
                t.message = "add(2, 3) should be 5 " + k_evil;
                ci::TestCase ok = t;
                ok.name = "test_mul";
                ok.status = ci::TestStatus::passed;
                r.tests.cases = {t, ok};
                r.tests.failed = 1;
                r.tests.passed = 1;
                r.faults = {{"unit", "disk full on write", true}};
                r.failed_steps = {"unit"};
            }
            EXPECT_TRUE(db->finish_ci_job(store::CiFinish{
                (*job)->id, "w1", status, r.failing, r.detail, app::ci_results_json(r), at + 2}));
        }
        return *id;
    }
    Response get(const std::string& path,
                 std::vector<std::pair<std::string, std::string>> query = {}) {
        return api->handle({"GET", path, std::move(query)});
    }
    Response post(const std::string& path, const std::string& token) {
        Request r{"POST", path, {}, {}, "", "127.0.0.1"};
        if (!token.empty()) {
            r.headers.emplace_back("Authorization", "Bearer " + token);
        }
        return api->handle(r);
    }
    std::vector<int64_t> ids(const Response& r) {
        std::vector<int64_t> out;
        const json doc = json::parse(r.body);
        for (const auto& p : doc.at("pipelines")) {
            out.push_back(p["id"].get<int64_t>());
        }
        return out;
    }

    std::string dir;
    app::Project project;
    std::unique_ptr<store::Store> db;
    std::unique_ptr<os::ProcessRunner> runner;
    std::optional<os::CancelSource> cancel;
    std::unique_ptr<Api> api;
    std::string dev_token, qa_token;
    int64_t older = 0, failed = 0, passed = 0, queued = 0;
};

TEST_F(CiApiTest, ListsPipelinesNewestFirstWithTheirJobs) {
    auto r = get("/api/v1/ci/pipelines");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(ids(r), (std::vector<int64_t>{queued, passed, failed, older}));
    auto doc = json::parse(r.body)["pipelines"];
    const auto& f = doc[2];
    EXPECT_EQ(f["ref"], "refs/heads/main");
    EXPECT_EQ(f["commit"], k_main);
    EXPECT_EQ(f["status"], "failed");
    EXPECT_EQ(f["failing_job"], k_evil);
    // The repository's URL is shown without its credentials.
    EXPECT_EQ(f["repo"], "https://git.example.org/app.git");
    EXPECT_EQ(r.body.find("s3cret"), std::string::npos);
    ASSERT_EQ(f["jobs"].size(), 2U);
    EXPECT_EQ(f["jobs"][1]["name"], k_evil);
    EXPECT_EQ(f["jobs"][1]["status"], "failed");
    EXPECT_EQ(f["jobs"][1]["failing"], "test calc.test_add");
    EXPECT_FALSE(f["jobs"][1]["run"].get<std::string>().empty());
    EXPECT_FALSE(f["jobs"][1].contains("definition"));
    EXPECT_EQ(doc[0]["status"], "queued");
    EXPECT_TRUE(doc[0]["failing_job"].is_null());
}

TEST_F(CiApiTest, FiltersByRefCommitStatusAndLimit) {
    EXPECT_EQ(ids(get("/api/v1/ci/pipelines", {{"ref", "main"}})),
              (std::vector<int64_t>{failed, older}));
    EXPECT_EQ(ids(get("/api/v1/ci/pipelines", {{"ref", "refs/heads/feature"}})),
              (std::vector<int64_t>{passed}));
    EXPECT_EQ(ids(get("/api/v1/ci/pipelines", {{"commit", "BCCC"}})),
              (std::vector<int64_t>{queued, passed}));
    EXPECT_EQ(ids(get("/api/v1/ci/pipelines", {{"status", "failed"}})),
              (std::vector<int64_t>{failed}));
    EXPECT_EQ(ids(get("/api/v1/ci/pipelines", {{"limit", "1"}})), (std::vector<int64_t>{queued}));
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{{"status", "done"},
                                                          {"commit", "abc"},
                                                          {"commit", "xyzw"},
                                                          {"limit", "0"},
                                                          {"limit", "1001"},
                                                          {"ref", ""},
                                                          {"page", "1"}}) {
        auto r = get("/api/v1/ci/pipelines", {{name, value}});
        EXPECT_EQ(r.status, 400) << name << "=" << value;
        EXPECT_NE(r.body.find(name), std::string::npos) << r.body;
    }
}

TEST_F(CiApiTest, OnePipelineCarriesEachJobsParsedResults) {
    auto r = get("/api/v1/ci/pipelines/" + std::to_string(failed));
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = json::parse(r.body);
    EXPECT_EQ(doc["id"], failed);
    ASSERT_EQ(doc["jobs"].size(), 2U);
    const auto& job = doc["jobs"][1];
    EXPECT_EQ(job["failing"], "test calc.test_add");
    EXPECT_EQ(job["run"],
              "run-" + std::to_string(failed) + "-" + std::to_string(job["id"].get<int64_t>()));
    const auto& res = job["results"];
    EXPECT_EQ(res["tests"]["total"], 2);
    EXPECT_EQ(res["tests"]["failed"], 1);
    ASSERT_EQ(res["failed_tests"].size(), 1U);
    EXPECT_EQ(res["failed_tests"][0]["name"], "calc.test_add");
    EXPECT_EQ(res["failed_tests"][0]["message"], "add(2, 3) should be 5 " + k_evil);
    ASSERT_EQ(res["faults"].size(), 1U);
    EXPECT_EQ(res["faults"][0]["fault"], "disk full on write");
    EXPECT_EQ(res["faults"][0]["fired"], true);
    EXPECT_EQ(res["failed_steps"], json::array({"unit"}));
    EXPECT_EQ(doc["jobs"][0]["results"]["tests"]["total"], 0);
    // A job not finished yet has no results.
    auto q = json::parse(get("/api/v1/ci/pipelines/" + std::to_string(queued)).body);
    EXPECT_TRUE(q["jobs"][0]["results"].is_null());
}

TEST_F(CiApiTest, UnknownPipelinesAre404AndReadsTakeNoQuery) {
    EXPECT_EQ(get("/api/v1/ci/pipelines/9999").status, 404);
    EXPECT_EQ(get("/api/v1/ci/pipelines/abc").status, 404);
    EXPECT_EQ(get("/api/v1/ci/pipelines/-1").status, 404);
    EXPECT_EQ(get("/api/v1/ci/pipelines/99999999999999999999").status, 404);
    EXPECT_EQ(get("/api/v1/ci/pipelines/1", {{"x", "1"}}).status, 400);
    EXPECT_EQ(post("/api/v1/ci/pipelines", dev_token).status, 405);
    auto wrong = get("/api/v1/ci/pipelines/1/cancel");
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.allow, "POST");
}

TEST_F(CiApiTest, CancelNeedsATokenAndARoleThatMayCancel) {
    const std::string path = "/api/v1/ci/pipelines/" + std::to_string(queued) + "/cancel";
    auto anonymous = post(path, "");
    EXPECT_EQ(anonymous.status, 401) << anonymous.body;
    EXPECT_EQ(post(path, "not-a-token").status, 401);
    auto qa = post(path, qa_token);
    EXPECT_EQ(qa.status, 403) << qa.body;
    EXPECT_NE(qa.body.find("quinn"), std::string::npos) << qa.body;
    // Nothing was cancelled by the refusals.
    EXPECT_EQ(db->get_ci_pipeline(queued)->status, "queued");
    auto ok = post(path, dev_token);
    ASSERT_EQ(ok.status, 200) << ok.body;
    auto doc = json::parse(ok.body);
    EXPECT_EQ(doc["changed_jobs"], 1);
    EXPECT_EQ(doc["by"], "dana");
    EXPECT_EQ(doc["status"], "cancelled");
    EXPECT_EQ(db->get_ci_pipeline(queued)->status, "cancelled");
    // Who cancelled is in the audit ledger.
    auto head = db->audit_head();
    ASSERT_TRUE(head && *head);
    EXPECT_EQ((*head)->kind, "ci-cancelled");
    EXPECT_EQ((*head)->actor, "dana");
    EXPECT_EQ((*head)->subject, "ci-pipeline/" + std::to_string(queued));
    // An ended pipeline has nothing to cancel; an unknown one is 404.
    EXPECT_EQ(post(path, dev_token).status, 409);
    EXPECT_EQ(post("/api/v1/ci/pipelines/9999/cancel", dev_token).status, 404);
}

TEST_F(CiApiTest, AFailedPipelineIsACardOnTheBoardAndAPassedOneIsNot) {
    auto r = get("/api/v1/board");
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = json::parse(r.body);
    json failed_column;
    for (const auto& c : doc["columns"]) {
        if (c["name"] == "failed") {
            failed_column = c;
        }
    }
    ASSERT_EQ(failed_column["cards"].size(), 1U) << r.body;
    const auto& card = failed_column["cards"][0];
    EXPECT_EQ(card["kind"], "ci");
    EXPECT_EQ(card["pipeline"], failed);
    EXPECT_EQ(card["ref"], "refs/heads/main");
    EXPECT_EQ(card["commit"], k_main);
    EXPECT_EQ(card["job"], k_evil);
    EXPECT_EQ(card["failing"], "test calc.test_add");
    EXPECT_EQ(card["detail"], "add(2, 3) should be 5, got -1");
    // A filtered board is about runs of an environment or checklist: no CI cards.
    auto filtered = json::parse(get("/api/v1/board", {{"env", "prod"}}).body);
    for (const auto& c : filtered["columns"]) {
        EXPECT_EQ(c["count"], 0) << c;
    }
}

TEST(CiBoardCards, OnlyTheNewestPipelineOfARefCounts) {
    auto make = [](int64_t id, const std::string& ref, const std::string& status) {
        store::CiPipeline p;
        p.id = id;
        p.repo = "/srv/app.git";
        p.ref = ref;
        p.status = status;
        store::CiJob j;
        j.name = "test";
        j.status = status;
        j.failing = status == "failed" ? "step unit" : "";
        p.jobs.push_back(j);
        return p;
    };
    // Newest first: main was fixed after failing; release's newest failed; fix failed on its
    // definition.
    store::CiPipeline invalid = make(5, "refs/heads/fix", "failed");
    invalid.jobs.clear();
    invalid.reason = ".shipshape-ci.toml:3:1: unknown key\nmore";
    auto cards = ci_board_cards(
        {invalid, make(4, "refs/heads/main", "passed"), make(3, "refs/heads/release", "failed"),
         make(2, "refs/heads/main", "failed"), make(1, "refs/heads/release", "passed")});
    ASSERT_EQ(cards.size(), 2U);
    EXPECT_EQ(cards[0].pipeline, 5);
    EXPECT_EQ(cards[0].failing, "definition");
    EXPECT_EQ(cards[0].detail, ".shipshape-ci.toml:3:1: unknown key");
    EXPECT_EQ(cards[1].pipeline, 3);
    EXPECT_EQ(cards[1].job, "test");
    EXPECT_EQ(cards[1].failing, "step unit");
}

TEST(CiShownRepo, DropsCredentialsOfURLsOnly) {
    EXPECT_EQ(shown_repo("https://u:p@h.example/a.git"), "https://h.example/a.git");
    EXPECT_EQ(shown_repo("ssh://git@h.example/a@b.git"), "ssh://h.example/a@b.git");
    EXPECT_EQ(shown_repo("https://h.example/a@b.git"), "https://h.example/a@b.git");
    EXPECT_EQ(shown_repo("/srv/git/app.git"), "/srv/git/app.git");
}

TEST(CiCancelRoles, DevOpsAndAdminMayCancel) {
    EXPECT_TRUE(may_cancel_ci(app::Identity{"a", {"dev"}}));
    EXPECT_TRUE(may_cancel_ci(app::Identity{"a", {"qa", "ops"}}));
    EXPECT_TRUE(may_cancel_ci(app::Identity{"a", {"admin"}}));
    EXPECT_FALSE(may_cancel_ci(app::Identity{"a", {"qa"}}));
    EXPECT_FALSE(may_cancel_ci(app::Identity{"a", {}}));
}

}  // namespace
}  // namespace shipshape::server
