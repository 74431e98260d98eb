#include "app/versions.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace shipshape::app {
namespace {

HostPackages host(const std::string& name, const std::string& env,
                  std::optional<std::map<std::string, std::string>> packages) {
    HostPackages h;
    h.host.name = name;
    h.host.env = env;
    h.packages = std::move(packages);
    h.source = "saved";
    if (!h.packages) {
        h.error = "no saved facts";
    }
    return h;
}

// "host=version" per host of one environment, with "*" for newest, "<" for lagging, "!" for
// missing, "?" for unknown and "none" for not installed.
std::string row(const EnvVersions& ev) {
    std::string out = (ev.env.empty() ? "-" : ev.env) + " newest=" + ev.newest + ":";
    for (const auto& h : ev.hosts) {
        out += " " + h.host + "=" +
               (h.version.empty() ? (h.error.empty() ? "none" : "?") : h.version) +
               (h.newest ? "*" : "") + (h.lags ? "<" : "") + (h.missing ? "!" : "");
    }
    return out;
}

using Packages = std::map<std::string, std::string>;

TEST(TabulateVersions, MarksTheNewestPerEnvironmentAndTheHostsThatLagOrMissIt) {
    struct Row {
        const char* what;
        std::vector<HostPackages> hosts;
        std::vector<std::string> want;  // row() of each environment, in order
        std::vector<std::string> lagging;
        std::vector<std::string> missing;
    };
    const Row rows[] = {
        {"one environment, one host behind; Debian ordering, not text (1.10 > 1.9)",
         {host("web2", "prod", Packages{{"booking", "1.9"}}),
          host("web10", "prod", Packages{{"booking", "1.10"}}),
          host("web1", "prod", Packages{{"booking", "1.10"}})},
         {"prod newest=1.10: web1=1.10* web2=1.9< web10=1.10*"},
         {"web2"},
         {}},
        {"each environment has its own newest; an epoch beats any upstream version; ~ sorts "
         "before the release",
         {host("stage1", "staging", Packages{{"booking", "1:0.9"}}),
          host("stage2", "staging", Packages{{"booking", "9.9"}}),
          host("web1", "prod", Packages{{"booking", "2.0"}}),
          host("web2", "prod", Packages{{"booking", "2.0~rc1"}})},
         {"prod newest=2.0: web1=2.0* web2=2.0~rc1<",
          "staging newest=1:0.9: stage1=1:0.9* stage2=9.9<"},
         {"stage2", "web2"},
         {}},
        {"Debian revisions: 1.0-10 is newer than 1.0-9; equal versions all newest",
         {host("a", "qa", Packages{{"booking", "1.0-9"}}),
          host("b", "qa", Packages{{"booking", "1.0-10"}}),
          host("c", "qa", Packages{{"booking", "1.0-10"}})},
         {"qa newest=1.0-10: a=1.0-9< b=1.0-10* c=1.0-10*"},
         {"a"},
         {}},
        {"a host without the package misses it when others of its environment have it",
         {host("web1", "prod", Packages{{"booking", "1.0"}}),
          host("web2", "prod", Packages{{"other", "1"}})},
         {"prod newest=1.0: web1=1.0* web2=none!"},
         {},
         {"web2"}},
        {"unknown hosts neither lag nor miss; an environment without the package is no "
         "disagreement; no environment comes last",
         {host("db1", "", Packages{{"other", "1"}}), host("web1", "prod", std::nullopt),
          host("web2", "prod", Packages{{"booking", "1.0"}}),
          host("stage1", "staging", Packages{{"other", "1"}})},
         {"prod newest=1.0: web1=? web2=1.0*", "staging newest=: stage1=none",
          "- newest=: db1=none"},
         {},
         {}},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.what);
        auto report = tabulate_versions(r.hosts, {"booking"});
        ASSERT_EQ(report.packages.size(), 1u);
        std::vector<std::string> got;
        for (const auto& ev : report.packages[0].envs) {
            got.push_back(row(ev));
        }
        EXPECT_EQ(got, r.want);
        EXPECT_EQ(report.packages[0].lagging, r.lagging);
        EXPECT_EQ(report.packages[0].missing, r.missing);
        bool known = std::all_of(r.hosts.begin(), r.hosts.end(),
                                 [](const HostPackages& h) { return h.packages.has_value(); });
        EXPECT_EQ(report.agree(), known && r.lagging.empty() && r.missing.empty());
    }
}

TEST(TabulateVersions, OneTablePerPackageInTheOrderAsked) {
    auto report = tabulate_versions({host("web1", "prod", Packages{{"a", "1"}, {"b", "2"}}),
                                     host("web2", "prod", std::nullopt)},
                                    {"b", "a"});
    ASSERT_EQ(report.packages.size(), 2u);
    EXPECT_EQ(report.packages[0].name, "b");
    EXPECT_EQ(report.packages[1].name, "a");
    ASSERT_EQ(report.hosts_without_facts.size(), 1u);
    EXPECT_EQ(report.hosts_without_facts[0].host, "web2");
    EXPECT_FALSE(report.agree());  // web2's versions are unknown
}

TEST(MatchPackages, NamesGlobsAndTypos) {
    std::vector<HostPackages> hosts = {
        host("web1", "prod", Packages{{"libssl3", "3.0"}, {"libc6", "2.36"}, {"nginx", "1.22"}}),
        host("web2", "prod", Packages{{"libzstd1", "1.5"}}), host("web3", "prod", std::nullopt)};
    auto names = [&](const std::string& pattern) {
        auto r = match_packages(hosts, pattern);
        return r ? *r : std::vector<std::string>{"error: " + r.error().message()};
    };
    EXPECT_EQ(names("nginx"), std::vector<std::string>{"nginx"});
    EXPECT_EQ(names("lib*"), (std::vector<std::string>{"libc6", "libssl3", "libzstd1"}));
    EXPECT_EQ(names("ngnix"),
              std::vector<std::string>{"error: package 'ngnix' is not installed on any of the 2 "
                                       "hosts whose packages are known"});
    EXPECT_EQ(match_packages(hosts, "x*").error().code(), Errc::not_found);
    // No host's packages known: the name itself, so the table shows every host unknown.
    EXPECT_EQ(match_packages({host("web3", "prod", std::nullopt)}, "nginx").value(),
              std::vector<std::string>{"nginx"});
}

TEST(VersionsJson, PerPackageEnvironmentNewestAndPerHostVersionAndLagging) {
    auto report = tabulate_versions({host("web1", "prod", Packages{{"booking", "1:1.0"}}),
                                     host("web2", "prod", Packages{{"booking", "1.0"}}),
                                     host("db1", "", Packages{{"other", "1"}})},
                                    {"booking"});
    std::string j = versions_to_json(report);
    for (const char* want :
         {R"("name": "booking")", R"("env": "prod")", R"("newest": "1:1.0")", R"("env": null)",
          R"("lagging": [
        "web2"
      ])",
          R"("agree": false)", R"("host": "web2",
              "installed": true,
              "known": true,
              "lagging": true)"}) {
        EXPECT_NE(j.find(want), std::string::npos) << want << "\n" << j;
    }
}

}  // namespace
}  // namespace shipshape::app
