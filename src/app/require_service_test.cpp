// RequireService on this machine, named in an inventory under several local names and outside
// any ops repo: the report names the hosts that fall short, and paths are probed through the
// probe seam.
#include "app/require_service.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace shipshape::app {
namespace {

class RequireServiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-require-XXXXXX";
        dir = ::mkdtemp(tmpl);
        std::ofstream(dir + "/requirements.toml")
            << "[resources]\ncpus = 1\n[[disk]]\npath = \"/srv/needed\"\nfree = \"1 B\"\n";
        std::ofstream(dir + "/impossible.toml") << "[resources]\nmemory = \"100000 TiB\"\n";
        auto inv = parse_inventory(
            "[env.qa]\nhosts = [\"h10\", \"h6\"]\n[host.h6]\naddress = \"127.0.0.6\"\n"
            "[host.h10]\naddress = \"127.0.0.10\"\n",
            "inventory.toml");
        ASSERT_TRUE(inv) << inv.error().message();
        project.root = dir;
        project.inventory = std::move(*inv);
    }
    void TearDown() override { std::system(("rm -rf " + dir).c_str()); }

    std::string dir;
    Project project;
};

TEST_F(RequireServiceTest, NamesTheHostsThatFallShort) {
    RequireService service(project, nullptr, {});
    auto req = service.load("impossible.toml");
    ASSERT_TRUE(req) << req.error().message();
    auto hosts = select_hosts(project.inventory, {"env:qa"});
    ASSERT_TRUE(hosts);
    auto report = service.check(*req, *hosts);
    EXPECT_EQ(report.hosts_checked, 2u);
    EXPECT_EQ(report.not_met(), 2u);
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(report.hosts_not_met(), (std::vector<std::string>{"h6", "h10"}));
}

TEST_F(RequireServiceTest, PathsGoThroughTheProbeAndAnEmptyProjectIsThisMachine) {
    Project none;  // outside an ops repo: only the working directory
    none.root = dir;
    RequireService service(none, nullptr, {});
    std::vector<std::string> probed;
    service.use_probe([&](const SelectedHost& host) -> require::PathProbe {
        return [&, host](const std::string& path) -> std::optional<bool> {
            probed.push_back(host.name + ":" + path);
            return true;
        };
    });
    auto req = service.load("requirements.toml");
    ASSERT_TRUE(req) << req.error().message();
    auto hosts = select_hosts_or_this_machine(nullptr, {});
    ASSERT_TRUE(hosts);
    auto report = service.check(*req, *hosts);
    EXPECT_EQ(report.hosts_checked, 1u);
    EXPECT_TRUE(report.errors.empty());
    ASSERT_FALSE(report.rows.empty());
    EXPECT_EQ(report.rows.front().host, "localhost");
    EXPECT_EQ(probed, (std::vector<std::string>{"localhost:/srv/needed"}));
}

TEST_F(RequireServiceTest, ARemoteHostWithoutTransportIsAnErrorNotARow) {
    project.inventory.environments.push_back({"prod", {"web1"}});
    RequireService service(project, nullptr, {});
    auto req = service.load("requirements.toml");
    ASSERT_TRUE(req);
    auto hosts = select_hosts(project.inventory, {"web1"});
    ASSERT_TRUE(hosts);
    auto report = service.check(*req, *hosts);
    EXPECT_TRUE(report.rows.empty());
    ASSERT_EQ(report.errors.size(), 1u);
    EXPECT_EQ(report.errors[0].first, "web1");
    EXPECT_EQ(report.errors[0].second.code(), Errc::unsupported);
    EXPECT_FALSE(report.ok());
}

}  // namespace
}  // namespace shipshape::app
