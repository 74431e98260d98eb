#include "server/api.hpp"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "app/run_locks.hpp"

namespace shipshape::server {
namespace {

constexpr const char* k_checklist = R"(name = "deploy"
[[step]]
id = "build"
run = ["true"]
[[step]]
id = "qa"
needs = ["build"]
manual = "QA confirms"
role = "qa"
)";

class ApiTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-api-XXXXXX";
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
        add_run("20260101-000000-aaaa", "prod", "done", 1000);
        add_run("20260101-000001-bbbb", "staging", "waiting", 2000);
    }
    void TearDown() override {
        api.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
    void add_run(const std::string& id, const std::string& env, const std::string& status,
                 int64_t at, const std::string& host = "", int64_t pid = 0) {
        store::RunRecord r;
        r.id = id;
        r.checklist_path = "checklists/deploy.toml";
        r.checklist_name = "deploy";
        r.checklist_text = k_checklist;
        r.env = env;
        r.status = status;
        r.started_at = at;
        r.updated_at = at + 5;
        r.host = host;
        r.pid = pid;
        ASSERT_TRUE(db->create_run(r));
    }
    Response get(const std::string& path,
                 std::vector<std::pair<std::string, std::string>> query = {}) {
        return api->handle({"GET", path, std::move(query)});
    }

    std::string dir;
    app::Project project;
    std::unique_ptr<store::Store> db;
    std::unique_ptr<os::ProcessRunner> runner;
    std::optional<os::CancelSource> cancel;
    std::unique_ptr<Api> api;
};

TEST_F(ApiTest, HealthNamesStoreAndVersion) {
    auto r = get("/api/v1/health");
    EXPECT_EQ(r.status, 200);
    auto version = db->stored_schema_version();
    ASSERT_TRUE(version);
    EXPECT_EQ(r.body,
              R"({"status":"ok","version":"9.9.9","store":{"kind":"sqlite","schema_version":)" +
                  std::to_string(*version) + R"(},"api":"v1"})");
}

TEST_F(ApiTest, RunsNewestFirstWithContractFields) {
    auto r = get("/api/v1/runs");
    ASSERT_EQ(r.status, 200) << r.body;
    auto second = r.body.find("20260101-000000-aaaa");
    auto first = r.body.find("20260101-000001-bbbb");
    ASSERT_NE(first, std::string::npos);
    EXPECT_LT(first, second);
    EXPECT_NE(
        r.body.find(
            R"("checklist":"deploy","checklist_path":"checklists/deploy.toml","env":"staging","status":"waiting")"),
        std::string::npos)
        << r.body;
    // A finished run has an end; a waiting one has not.
    EXPECT_NE(r.body.find(R"("ended_at_ms":1005)"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("ended_at_ms":null)"), std::string::npos) << r.body;
}

TEST_F(ApiTest, FiltersRuns) {
    auto r = get("/api/v1/runs", {{"env", "prod"}});
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("aaaa"), std::string::npos);
    EXPECT_EQ(r.body.find("bbbb"), std::string::npos);
    r = get("/api/v1/runs", {{"status", "waiting"}, {"checklist", "deploy"}});
    EXPECT_EQ(r.body.find("aaaa"), std::string::npos);
    EXPECT_NE(r.body.find("bbbb"), std::string::npos);
    EXPECT_EQ(get("/api/v1/runs", {{"limit", "1"}}).body.find("aaaa"), std::string::npos);
    EXPECT_EQ(get("/api/v1/runs", {{"env", "nowhere"}}).body, "[]");
}

// The ids in a run list, in order.
std::string listed_ids(const std::string& body) {
    std::string out;
    for (size_t at = body.find(R"("id":")"); at != std::string::npos;
         at = body.find(R"("id":")", at + 1)) {
        const size_t start = at + 6;
        out += (out.empty() ? "" : " ") + body.substr(start, body.find('"', start) - start);
    }
    return out;
}

TEST_F(ApiTest, StatusFilterSeesInterruptedRunsAsShown) {
    // Recorded as running on this machine by a process that no longer exists: shown (and so
    // filtered) as interrupted. A run recorded on another machine is believed.
    const int64_t gone_pid = 999999999;
    add_run("gone-1", "prod", "running", 5000, app::local_hostname(), gone_pid);
    add_run("gone-2", "prod", "running", 6000, app::local_hostname(), gone_pid);
    add_run("gone-3", "prod", "undoing", 7000, app::local_hostname(), gone_pid);
    add_run("remote", "prod", "running", 3000, "another-host", 1);
    add_run("stopped", "prod", "interrupted", 4000);
    EXPECT_EQ(listed_ids(get("/api/v1/runs", {{"status", "interrupted"}}).body),
              "gone-3 gone-2 gone-1 stopped");
    EXPECT_EQ(listed_ids(get("/api/v1/runs", {{"status", "interrupted"}, {"limit", "2"}}).body),
              "gone-3 gone-2");
    // The newest recorded running runs are gone ones: the live one below them is still found.
    EXPECT_EQ(listed_ids(get("/api/v1/runs", {{"status", "running"}, {"limit", "1"}}).body),
              "remote");
    EXPECT_EQ(listed_ids(get("/api/v1/runs", {{"status", "undoing"}}).body), "");
}

struct BadQuery {
    std::pair<std::string, std::string> param;
    const char* error;
};

TEST_F(ApiTest, RefusesBadFiltersWithAReason) {
    const BadQuery rows[] = {
        // Not a number, zero, above the cap, trailing garbage.
        {{"limit", "abc"}, "limit must be a whole number from 1 to 1000, not 'abc'"},
        {{"limit", "0"}, "limit must be a whole number from 1 to 1000, not '0'"},
        {{"limit", "1001"}, "limit must be a whole number from 1 to 1000, not '1001'"},
        {{"limit", "5;"}, "limit must be a whole number from 1 to 1000, not '5;'"},
        // A status that does not exist.
        {{"status", "bogus"},
         "status must be one of running, waiting, failed, done, interrupted, undoing, undone, "
         "undo-failed, not 'bogus'"},
        // A name with a control character (escaped in the message, then as JSON).
        {{"env", "a\x1b[2J"},
         "env must be a name of 1 to 200 characters without control characters, not "
         "'a\\\\x1b[2J'"},  // JSON-escaped: the message holds a\x1b
        // Empty names match nothing anyone meant.
        {{"checklist", ""},
         "checklist must be a name of 1 to 200 characters without control characters, not ''"},
        // Unknown parameters are refused, not ignored.
        {{"user", "x"}, "unknown query parameter 'user' (known: checklist, env, limit, status)"},
    };
    for (const auto& row : rows) {
        auto r = get("/api/v1/runs", {row.param});
        EXPECT_EQ(r.status, 400) << row.param.first;
        EXPECT_EQ(r.body, std::string(R"({"error":")") + row.error + "\"}") << row.param.first;
    }
    EXPECT_EQ(get("/api/v1/runs", {{"env", "a"}, {"env", "b"}}).status, 400);
}

TEST_F(ApiTest, ShowsStepsWithRoleForManualOnly) {
    auto r = get("/api/v1/runs/20260101-000001-bbbb");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"({"id":"build","kind":"command","status":"pending","attempts")"),
              std::string::npos)
        << r.body;
    EXPECT_NE(r.body.find(R"({"id":"qa","kind":"manual","status":"pending","role":"qa")"),
              std::string::npos)
        << r.body;
}

TEST_F(ApiTest, UnknownRunsAndStepsAre404) {
    for (const char* id : {"nope", "x' OR '1'='1", "last", "1; DROP TABLE runs; --"}) {
        auto r = get(std::string("/api/v1/runs/") + id);
        EXPECT_EQ(r.status, 404) << id;
        EXPECT_EQ(r.body, std::string(R"({"error":"no run ')") + id + "'\"}");
    }
    auto r = get("/api/v1/runs/20260101-000001-bbbb/steps/../../../etc/passwd/log");
    EXPECT_EQ(r.status, 404);
    r = get("/api/v1/runs/20260101-000001-bbbb/steps/..%2Fx/log");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, R"({"error":"run '20260101-000001-bbbb' has no step '..%2Fx'"})");
    // The store still answers after all of it.
    EXPECT_EQ(get("/api/v1/runs").status, 200);
}

TEST_F(ApiTest, StepLogIsTheFileTextOrEmpty) {
    std::filesystem::create_directories(dir + "/.shipshape/runs/20260101-000001-bbbb");
    std::ofstream(dir + "/.shipshape/runs/20260101-000001-bbbb/build.log")
        << "<script>alert(1)</script>\npassword=***\n";
    auto r = get("/api/v1/runs/20260101-000001-bbbb/steps/build/log");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(
        r.body,
        R"({"run":"20260101-000001-bbbb","step":"build","log":"<script>alert(1)</script>\npassword=***\n"})");
    r = get("/api/v1/runs/20260101-000001-bbbb/steps/qa/log");
    EXPECT_EQ(r.body, R"({"run":"20260101-000001-bbbb","step":"qa","log":""})");
}

TEST_F(ApiTest, RoutesMethodsAndPaths) {
    EXPECT_EQ(get("/api/v1/nope").status, 404);
    EXPECT_EQ(get("/").status, 404);
    EXPECT_EQ(get("/api/v1/runs/").status, 404);
    EXPECT_EQ(get("/api/v1//runs").status, 404);
    EXPECT_EQ(get("/api/v1/health", {{"x", "1"}}).status, 400);
    auto r = api->handle({"POST", "/api/v1/runs", {}});
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.allow, "GET, HEAD");
    EXPECT_EQ(api->handle({"DELETE", "/api/v1/nope", {}}).status, 404);
    auto doc = get("/api/v1/openapi.json");
    EXPECT_EQ(doc.status, 200);
    EXPECT_NE(doc.body.find("\"/api/v1/runs/{id}/steps/{step}/log\""), std::string::npos);
}

TEST_F(ApiTest, BoardAndHistoryShowEveryStoreChangeAtOnce) {
    // The two are cached per store change: a write must be seen by the very next request.
    auto board = get("/api/v1/board");
    ASSERT_EQ(board.status, 200) << board.body;
    EXPECT_EQ(get("/api/v1/board").body, board.body);  // unchanged store: the same document
    EXPECT_NE(board.body.find("bbbb"), std::string::npos);
    EXPECT_EQ(board.body.find("cccc"), std::string::npos);
    auto history = get("/api/v1/history", {{"days", "366"}});
    ASSERT_EQ(history.status, 200) << history.body;
    add_run("20260101-000002-cccc", "prod", "waiting", app::now_ms());
    board = get("/api/v1/board");
    EXPECT_NE(board.body.find("cccc"), std::string::npos) << board.body;
    EXPECT_NE(get("/api/v1/history", {{"days", "366"}}).body, history.body);
    // A run that ends leaves the planned column at once.
    ASSERT_TRUE(db->update_run("20260101-000002-cccc", "done", 0, app::now_ms()));
    auto after = get("/api/v1/board");
    EXPECT_NE(after.body, board.body);
    EXPECT_NE(after.body.find(R"("status":"done","user")"), std::string::npos) << after.body;
    // Query strings are cached apart.
    EXPECT_EQ(get("/api/v1/board", {{"env", "staging"}}).body.find("cccc"), std::string::npos);
}

TEST_F(ApiTest, ReleasesWithoutStagesOrReleasesIsAnEmptyDocument) {
    // No releases/ directory, no [stage.*]: the board has nothing to show, and that is no error.
    auto r = get("/api/v1/releases");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"({"stages":[],"releases":[]})");
    EXPECT_EQ(get("/api/v1/releases", {{"name", "x"}}).status, 400);
    auto post = api->handle({"POST", "/api/v1/releases", {}});
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.allow, "GET, HEAD");
    EXPECT_EQ(get("/api/v1/releases/").status, 404);
}

}  // namespace
}  // namespace shipshape::server
