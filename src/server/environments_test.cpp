#include "server/environments.hpp"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>

#include "facts/facts_json.hpp"
#include "os/file_system.hpp"
#include "state/report.hpp"

namespace shipshape::server {
namespace {

constexpr int64_t k_now = 1796644800000;

class EnvironmentsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-envs-XXXXXX";
        dir = ::mkdtemp(tmpl);
        project.root = dir;
        project.inventory.environments = {{"staging", {"stage1"}}, {"prod", {"web1", "web2"}}};
        project.inventory.hosts = {{"stage1", "", "", 22, {}},
                                   {"web1", "", "", 22, {}},
                                   {"web2", "", "", 22, {}},
                                   {"spare", "", "", 22, {}}};
        auto s = store::open_store(dir + "/state.db");
        ASSERT_TRUE(s) << s.error().message();
        db = std::move(*s);
    }
    void TearDown() override {
        db.reset();
        std::filesystem::remove_all(dir);
    }
    void save_facts(const std::string& host, int64_t at, uint64_t mem_available,
                    const std::string& booking_version) {
        facts::HostFacts f;
        f.memory.total = 8ULL << 30;
        f.memory.available = mem_available;
        f.packages.push_back({"booking", booking_version, "amd64", "installed"});
        std::string doc = facts::to_json(f, {"memory", "packages"}, -1);
        ASSERT_TRUE(db->save_facts({0, host, at, host + std::to_string(at), doc}));
    }
    void save_report(const std::string& host, int64_t at, std::optional<size_t> drift) {
        state::HostState s;
        s.host = host;
        s.drift = drift;
        ASSERT_TRUE(db->save_host_state({0, host, at, "h", state::host_state_to_json(s)}));
    }
    const HostStatus& row(const EnvironmentsView& v, const std::string& host) {
        for (const auto& h : v.hosts) {
            if (h.host == host) {
                return h;
            }
        }
        ADD_FAILURE() << "no row for " << host;
        return v.hosts.front();
    }

    std::string dir;
    app::Project project;
    std::unique_ptr<store::Store> db;
};

TEST_F(EnvironmentsTest, NothingKnownIsUnknown) {
    auto v = compute_environments(project, *db, k_now);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->environments, (std::vector<std::string>{"staging", "prod"}));
    ASSERT_EQ(v->hosts.size(), 4u);
    EXPECT_EQ(v->hosts[0].host, "stage1");
    EXPECT_EQ(v->hosts[3].host, "spare");  // in no environment, still a row
    EXPECT_EQ(v->hosts[3].env, "");
    for (const auto& h : v->hosts) {
        EXPECT_EQ(h.version, "unknown");
        EXPECT_EQ(h.drift, "unknown");
        EXPECT_EQ(h.requirements, "unknown");
        EXPECT_EQ(h.requirements_detail, "no requirements.toml in the ops repo");
        EXPECT_FALSE(h.facts_age_s);
    }
}

TEST_F(EnvironmentsTest, VersionDriftRequirementsAndAge) {
    ASSERT_TRUE(os::write_whole_file_atomic(dir + "/requirements.toml",
                                            "[resources]\nmemory = \"1GiB\"\n"));
    project.config.package = "booking";
    // web1: an apply recorded version=2.4.1; its facts say 2.3.0 (the apply wins).
    ASSERT_TRUE(db->save_applied_params({"web1", k_now - 5000, {{"version", "2.4.1"}}}));
    save_facts("web1", k_now - 90'000, 4ULL << 30, "2.3.0");
    save_report("web1", k_now - 1000, 0);
    // web2: no apply; the package's version from facts; not enough memory; drifted.
    save_facts("web2", k_now - 10'000, 1ULL << 20, "2.3.0");
    save_report("web2", k_now - 1000, 3);
    // stage1: a report from before shipshape counted differences.
    save_report("stage1", k_now - 1000, std::nullopt);

    auto v = compute_environments(project, *db, k_now);
    ASSERT_TRUE(v) << v.error().message();
    const auto& web1 = row(*v, "web1");
    EXPECT_EQ(web1.version, "2.4.1");
    EXPECT_EQ(web1.version_source, "apply");
    EXPECT_EQ(web1.facts_age_s, 90);
    EXPECT_EQ(web1.drift, "clean");
    EXPECT_EQ(web1.requirements, "pass") << web1.requirements_detail;
    const auto& web2 = row(*v, "web2");
    EXPECT_EQ(web2.version, "2.3.0");
    EXPECT_EQ(web2.version_source, "facts");
    EXPECT_EQ(web2.drift, "3 differences");
    EXPECT_EQ(web2.requirements, "fail");
    EXPECT_EQ(web2.requirements_detail, "1 of 1 requirements not met");
    const auto& stage1 = row(*v, "stage1");
    EXPECT_EQ(stage1.drift, "unknown");
    EXPECT_TRUE(stage1.drift_at_ms);
    EXPECT_EQ(stage1.requirements, "unknown");
    EXPECT_EQ(stage1.requirements_detail, "no facts saved for this host");
}

TEST_F(EnvironmentsTest, ABrokenRequirementsFileIsUnknownWithTheReason) {
    ASSERT_TRUE(os::write_whole_file_atomic(dir + "/requirements.toml", "[resources\n"));
    save_facts("web1", k_now, 1, "1");
    auto v = compute_environments(project, *db, k_now);
    ASSERT_TRUE(v);
    EXPECT_EQ(row(*v, "web1").requirements, "unknown");
    EXPECT_TRUE(row(*v, "web1").requirements_detail.starts_with("requirements.toml:1:"))
        << row(*v, "web1").requirements_detail;
}

TEST_F(EnvironmentsTest, OneDifferenceIsSingular) {
    save_report("web1", k_now, 1);
    auto v = compute_environments(project, *db, k_now);
    ASSERT_TRUE(v);
    EXPECT_EQ(row(*v, "web1").drift, "1 difference");
    EXPECT_NE(json_environments(*v).find("\"drift\":\"1 difference\""), std::string::npos);
}

}  // namespace
}  // namespace shipshape::server
