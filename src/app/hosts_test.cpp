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

TEST(HostName, KeepsToDnsNamesAndUnderscore) {
    const std::string rule =
        "; host names are DNS names: letters, digits, '-' and '_', with '.' between labels of 1 "
        "to 63 characters (253 in all)";
    struct Row {
        std::string name;
        std::string problem;
    };
    const Row rows[] = {
        {"web1", ""},                   // a plain name
        {"db_2.prod.example.com", ""},  // labels, '_' and '.'
        {"localhost", ""},              // this machine
        {"10.0.0.5", ""},               // an address used as a name
        {std::string(63, 'a'), ""},     // the longest label
        {"", "it is empty" + rule},     // nothing
        {"x/../../../tmp/esc",          // a path: would leave the log directory
         "character 2 ('/') is not allowed" + rule},
        {"a b", "character 2 (' ') is not allowed" + rule},               // blank
        {"evil\x1b[2K", "character 5 ('\\x1b') is not allowed" + rule},   // ESC, shown escaped
        {"h\xc3\xa9", "character 2 ('\xc3\xa9') is not allowed" + rule},  // non-ASCII letter
        {"..", "it has an empty label at character 1" + rule},            // only dots
        {"a..b", "it has an empty label at character 3" + rule},          // empty middle label
        {"web.", "it has an empty label at character 5" + rule},          // trailing dot
        {std::string(64, 'a'), "the label at character 1 has 64 characters" + rule},
        {"-oProxyCommand", "the label '-oProxyCommand' starts or ends with '-'" + rule},
        {"a.b-", "the label 'b-' starts or ends with '-'" + rule},
    };
    for (const auto& r : rows) {
        EXPECT_EQ(host_name_problem(r.name), r.problem) << r.name;
    }
    std::string long_name;
    for (int i = 0; i < 5; ++i) {
        long_name += std::string(50, 'a') + ".";
    }
    long_name += "abcd";  // 259 characters in labels of 50
    EXPECT_EQ(host_name_problem(long_name), "it has 259 characters" + rule);
}

TEST(NaturalOrder, NumbersCompareAsNumbers) {
    struct Row {
        const char* a;
        const char* b;
        bool less;
    };
    const Row rows[] = {
        {"h6", "h10", true},      // the reported bug: h10 sorted before h6
        {"h10", "h6", false},     // and not the other way round
        {"h2", "h2", false},      // irreflexive
        {"web9", "web10", true},  // multi-letter prefix
        {"db1", "web1", true},    // letters still decide first
        {"h1", "h1a", true},      // a prefix sorts first
        {"h1-2", "h1-10", true},  // every run of digits counts
        {"h007", "h8", true},     // leading zeros do not make a number larger
        {"h06", "h6", true},      // equal numbers: plain order breaks the tie
        {"h6", "h06", false},     // ... consistently
    };
    for (const auto& r : rows) {
        EXPECT_EQ(natural_less(r.a, r.b), r.less) << r.a << " < " << r.b;
    }
}

TEST(SelectHosts, AreInNaturalOrder) {
    auto inv = parse_inventory(R"(
[env.prod]
hosts = ["h10", "h2", "h1", "h11", "h6"]
)",
                               "i.toml");
    ASSERT_TRUE(inv) << inv.error().message();
    EXPECT_EQ(names(all_hosts(*inv)), (std::vector<std::string>{"h1", "h2", "h6", "h10", "h11"}));
    EXPECT_EQ(names(*select_hosts(*inv, {"env:prod"})),
              (std::vector<std::string>{"h1", "h2", "h6", "h10", "h11"}));
}

TEST(SelectHostsOrThisMachine, ThisMachineNeedsNoInventoryEntry) {
    // An inventory of remote hosts only: "no host matches 'localhost'" was the bug.
    auto inv = parse_inventory("[env.prod]\nhosts = [\"web1\"]\n", "i.toml");
    ASSERT_TRUE(inv) << inv.error().message();
    for (const auto& patterns :
         {std::vector<std::string>{}, std::vector<std::string>{"localhost"}}) {
        auto hosts = select_hosts_or_this_machine(&*inv, patterns);
        ASSERT_TRUE(hosts) << hosts.error().message();
        ASSERT_EQ(hosts->size(), 1u);
        EXPECT_EQ(hosts->front().name, "localhost");
        EXPECT_TRUE(hosts->front().local);
    }
    // Outside an ops repo, too.
    auto here = select_hosts_or_this_machine(nullptr, {});
    ASSERT_TRUE(here);
    EXPECT_TRUE(here->front().local);
    auto named = select_hosts_or_this_machine(nullptr, {"web1"});
    ASSERT_FALSE(named);
    EXPECT_EQ(named.error().message(),
              "naming hosts ('web1') needs an ops repo with an inventory.toml; outside one, only "
              "this machine (localhost) can be asked");
    // The inventory's own localhost entry keeps its environment.
    auto local_inv = parse_inventory("[env.local]\nhosts = [\"localhost\"]\n", "i");
    ASSERT_TRUE(local_inv);
    auto listed = select_hosts_or_this_machine(&*local_inv, {});
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->front().env, "local");
}

}  // namespace
}  // namespace shipshape::app
