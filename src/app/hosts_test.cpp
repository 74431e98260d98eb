#include "app/hosts.hpp"

#include <gtest/gtest.h>

namespace shipshape::app {
namespace {

Inventory sample() {
    auto inv = parse_inventory(R"(
[env.prod]
hosts = ["web1", "web2", "db1"]
[env.local]
hosts = ["localhost"]
[group.web]
hosts = ["web1", "web2"]
[host.web1]
address = "10.0.0.5"
tags = { rack = "a3" }
[host.devbox]
address = "127.0.0.2"
)",
                               "i.toml");
    EXPECT_TRUE(inv) << inv.error().message();
    return *inv;
}

std::vector<std::string> names(const std::vector<SelectedHost>& hosts) {
    std::vector<std::string> out;
    for (const auto& h : hosts) {
        out.push_back(h.name);
    }
    return out;
}

TEST(SelectHosts, PatternsAddUp) {
    auto inv = sample();
    struct Row {
        std::vector<std::string> patterns;
        std::vector<std::string> hosts;
    };
    const Row rows[] = {
        {{"web*"}, {"web1", "web2"}},                     // glob
        {{"group:web"}, {"web1", "web2"}},                // group
        {{"env:prod"}, {"db1", "web1", "web2"}},          // environment
        {{"db1", "localhost"}, {"db1", "localhost"}},     // several names
        {{"env:prod", "web1"}, {"db1", "web1", "web2"}},  // overlaps count once
    };
    for (const auto& row : rows) {
        auto got = select_hosts(inv, row.patterns);
        ASSERT_TRUE(got) << got.error().message();
        EXPECT_EQ(names(*got), row.hosts);
    }
}

TEST(SelectHosts, KnowsLocalHostsAndAddresses) {
    auto all = all_hosts(sample());
    std::map<std::string, SelectedHost> by_name;
    for (const auto& h : all) {
        by_name[h.name] = h;
    }
    EXPECT_TRUE(by_name["localhost"].local);
    EXPECT_TRUE(by_name["devbox"].local);  // a loopback address
    EXPECT_FALSE(by_name["web1"].local);
    EXPECT_EQ(by_name["web1"].address, "10.0.0.5");
    EXPECT_EQ(by_name["web1"].env, "prod");
    EXPECT_EQ(by_name["web1"].tags.at("rack"), "a3");
    EXPECT_EQ(by_name["db1"].address, "db1");
}

TEST(SelectHosts, NamesWhatMatchesNothing) {
    auto inv = sample();
    EXPECT_EQ(select_hosts(inv, {"cache*"}).error().message(),
              "no host matches 'cache*' (see 'shipshape hosts'; patterns: NAME, glob such as "
              "web*, group:NAME, env:NAME)");
    EXPECT_EQ(select_hosts(inv, {"group:db"}).error().message(), "no group 'db' in inventory.toml");
    EXPECT_EQ(select_hosts(inv, {"env:qa"}).error().message(),
              "no environment 'qa' in inventory.toml");
}

}  // namespace
}  // namespace shipshape::app
