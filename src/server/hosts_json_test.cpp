// The pull-report routes of the Api (api_hosts.cpp, docs/specs/pull-report.md), read as their
// JSON documents (hence the name: nlohmann/json parses them here), over a real
// SQLite store: 201 then 200 for the same report (stored once), 400 naming the field or the host
// mismatch, 401 without a token, 403 for another host's user or a user without the role host,
// admin for any host, 413 over 1 MiB; and the two reads.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/pull_reports.hpp"
#include "app/users.hpp"
#include "server/api.hpp"

namespace shipshape::server {
namespace {

using json = nlohmann::json;

app::PullReport report(const std::string& host, const std::string& run) {
    app::PullReport r;
    r.host = host;
    r.run = run;
    r.commit = std::string(40, 'a');
    r.applied_commit = r.commit;
    r.branch = "main";
    r.started_at = 1000;
    r.finished_at = 1400;
    r.result = "failed";
    r.exit_code = 1;
    r.error = "drift remains <script>";
    r.apply = {3, 1, 0};
    r.drifted = 1;
    r.drift = {"file:/etc/motd"};
    r.facts = R"({"schema":"shipshape.facts/1","host":")" + host + "\"}";
    return r;
}

class HostsApiTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-hosts-api-XXXXXX";
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
        ASSERT_TRUE(users.add_user("web-1", {"host"}));
        ASSERT_TRUE(users.add_user("web-2", {"host"}));
        ASSERT_TRUE(users.add_user("dana", {"dev"}));
        ASSERT_TRUE(users.add_user("root", {"admin"}));
        web1 = *users.issue_token("web-1");
        web2 = *users.issue_token("web-2");
        dev = *users.issue_token("dana");
        admin = *users.issue_token("root");
    }
    void TearDown() override {
        api.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
    Response post(const std::string& host, const std::string& body, const std::string& token) {
        Request r{"POST", "/api/v1/hosts/" + host + "/reports", {}, {}, body, "127.0.0.1"};
        r.headers.emplace_back("Content-Type", "application/json");
        if (!token.empty()) {
            r.headers.emplace_back("Authorization", "Bearer " + token);
        }
        return api->handle(r);
    }
    Response get(const std::string& path,
                 std::vector<std::pair<std::string, std::string>> query = {}) {
        return api->handle({"GET", path, std::move(query)});
    }
    size_t stored_reports(const std::string& host) {
        auto rows = db->host_reports(host, 100);
        EXPECT_TRUE(rows);
        return rows ? rows->size() : 0;
    }

    std::string dir;
    app::Project project;
    std::unique_ptr<store::Store> db;
    std::unique_ptr<os::ProcessRunner> runner;
    std::optional<os::CancelSource> cancel;
    std::unique_ptr<Api> api;
    std::string web1, web2, dev, admin;
};

TEST_F(HostsApiTest, ANewReportIs201AndTheSameAgain200StoredOnce) {
    const std::string body = app::to_json(report("web-1", "0000000000000001"));
    auto first = post("web-1", body, web1);
    ASSERT_EQ(first.status, 201) << first.body;
    auto doc = json::parse(first.body);
    EXPECT_EQ(doc["stored"], true);
    const int64_t id = doc["id"].get<int64_t>();
    EXPECT_GT(id, 0);
    auto again = post("web-1", body, web1);
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(json::parse(again.body), (json{{"stored", false}, {"id", id}}));
    EXPECT_EQ(stored_reports("web-1"), 1u);
}

TEST_F(HostsApiTest, AnAdminMayReportForAnyHost) {
    auto r = post("web-2", app::to_json(report("web-2", "0000000000000001")), admin);
    EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(HostsApiTest, WithoutAValidTokenIs401) {
    const std::string body = app::to_json(report("web-1", "0000000000000001"));
    auto none = post("web-1", body, "");
    EXPECT_EQ(none.status, 401) << none.body;
    auto wrong = post("web-1", body, "sst_nope_nope");
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    EXPECT_EQ(stored_reports("web-1"), 0u);
}

TEST_F(HostsApiTest, AnotherHostsUserOrAUserWithoutTheRoleHostIs403) {
    const std::string body = app::to_json(report("web-1", "0000000000000001"));
    auto other = post("web-1", body, web2);
    EXPECT_EQ(other.status, 403) << other.body;
    EXPECT_EQ(json::parse(other.body)["error"],
              "user 'web-2' may not report for host 'web-1': that needs the role host and the "
              "host's name as the user's, or the role admin");
    // A user named like the host without the role host may not either.
    app::UserService users(*db);
    ASSERT_TRUE(users.set_roles("web-1", {"dev"}));
    EXPECT_EQ(post("web-1", body, web1).status, 403);
    EXPECT_EQ(post("web-1", body, dev).status, 403);
    EXPECT_EQ(stored_reports("web-1"), 0u);
}

TEST_F(HostsApiTest, AMalformedDocumentIs400NamingTheField) {
    auto r = report("web-1", "0000000000000001");
    std::string body = app::to_json(r);
    body.replace(body.find("\"file:/etc/motd\""), 16, "7");
    auto bad = post("web-1", body, web1);
    ASSERT_EQ(bad.status, 400) << bad.body;
    EXPECT_EQ(json::parse(bad.body)["error"],
              "drift.resources[0]: expected a string, not a number");
    EXPECT_EQ(post("web-1", "{", web1).status, 400);
    EXPECT_EQ(stored_reports("web-1"), 0u);
}

TEST_F(HostsApiTest, AReportOfAnotherHostThanTheRoutesIs400) {
    // web-1's own token, its own route, but the document says web-2.
    auto r = post("web-1", app::to_json(report("web-2", "0000000000000001")), web1);
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(json::parse(r.body)["error"],
              "host: the report is of host 'web-2', sent to the route of host 'web-1'");
    EXPECT_EQ(stored_reports("web-2"), 0u);
}

TEST_F(HostsApiTest, ABodyOver1MiBIs413) {
    std::string body(1024 * 1024 + 1, ' ');
    auto r = post("web-1", body, web1);
    EXPECT_EQ(r.status, 413) << r.body;
}

TEST_F(HostsApiTest, TheReadsShowTheNewestReportPerHostAndAHostsReports) {
    ASSERT_EQ(post("web-1", app::to_json(report("web-1", "0000000000000001")), web1).status, 201);
    auto newer = report("web-1", "0000000000000002");
    newer.result = "converged";
    newer.exit_code = 0;
    newer.error = "";
    newer.drifted = 0;
    newer.drift = {};
    ASSERT_EQ(post("web-1", app::to_json(newer), web1).status, 201);
    ASSERT_EQ(post("web-2", app::to_json(report("web-2", "0000000000000003")), web2).status, 201);
    auto latest = get("/api/v1/hosts/reports");
    ASSERT_EQ(latest.status, 200) << latest.body;
    auto hosts = json::parse(latest.body)["hosts"];
    ASSERT_EQ(hosts.size(), 2u);
    EXPECT_EQ(hosts[0]["host"], "web-1");
    EXPECT_EQ(hosts[0]["run"], "0000000000000002");
    EXPECT_EQ(hosts[0]["result"], "converged");
    EXPECT_FALSE(hosts[0].contains("facts"));
    EXPECT_EQ(hosts[1]["host"], "web-2");
    EXPECT_EQ(hosts[1]["error"], "drift remains <script>");
    EXPECT_EQ(hosts[1]["drift"]["resources"], json::array({"file:/etc/motd"}));
    auto one = get("/api/v1/hosts/web-1/reports", {{"limit", "1"}});
    ASSERT_EQ(one.status, 200) << one.body;
    auto doc = json::parse(one.body);
    EXPECT_EQ(doc["host"], "web-1");
    ASSERT_EQ(doc["reports"].size(), 1u);
    EXPECT_EQ(doc["reports"][0]["run"], "0000000000000002");
    EXPECT_EQ(json::parse(get("/api/v1/hosts/web-1/reports").body)["reports"].size(), 2u);
    EXPECT_EQ(get("/api/v1/hosts/web-1/reports", {{"limit", "0"}}).status, 400);
    EXPECT_EQ(get("/api/v1/hosts/web-1/reports", {{"since", "1"}}).status, 400);
    EXPECT_EQ(get("/api/v1/hosts/web 1/reports").status, 400);
    EXPECT_EQ(get("/api/v1/hosts/reports", {{"limit", "1"}}).status, 400);
    auto put = api->handle({"PUT", "/api/v1/hosts/web-1/reports", {}});
    EXPECT_EQ(put.status, 405);
    EXPECT_EQ(put.allow, "GET, HEAD, POST");
}

}  // namespace
}  // namespace shipshape::server
