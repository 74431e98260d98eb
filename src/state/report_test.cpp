#include "state/report.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace shipshape::state {
namespace {

HostState host(std::string name, std::string env, std::vector<std::string> roles,
               std::string kernel, std::map<std::string, std::string> packages,
               std::map<std::string, ManagedPath> paths) {
    HostState h;
    h.host = std::move(name);
    h.env = std::move(env);
    h.roles = std::move(roles);
    h.state_files = {"states/base.toml", "states/web.toml"};
    h.kernel = std::move(kernel);
    h.os = "Debian GNU/Linux 12 (bookworm)";
    h.packages = std::move(packages);
    h.paths = std::move(paths);
    h.has_facts = true;
    return h;
}

const ManagedPath k_conf_a{"file", "aaaaaaaaaaaaaaaa", "0640", "root:root"};
const ManagedPath k_conf_b{"file", "bbbbbbbbbbbbbbbb", "0640", "root:root"};

TEST(CompareEnvironments, ReportsEveryDifferenceWithBothSides) {
    std::vector<HostState> staging = {
        host("s-web1", "staging", {"web"}, "6.1.0-17", {{"nginx", "1.22.1-9"}, {"curl", "7.88"}},
             {{"/etc/app.conf", k_conf_b}}),
    };
    std::vector<HostState> prod = {
        host("p-web1", "prod", {"web"}, "6.1.0-18",
             {{"nginx", "1.22.1-9+deb12u1"}, {"curl", "7.88"}}, {{"/etc/app.conf", k_conf_a}}),
        host("p-web2", "prod", {"web"}, "6.1.0-18", {{"nginx", "1.22.1-9"}, {"curl", "7.88"}},
             {{"/etc/app.conf", k_conf_a}}),
        host("p-db1", "prod", {"db"}, "6.1.0-18", {}, {}),
    };
    auto cmp = compare_environments("staging", staging, "prod", prod);
    ASSERT_EQ(cmp.roles.size(), 1u);
    const auto& web = cmp.roles[0];
    EXPECT_EQ(web.roles, "web");
    EXPECT_EQ(web.left_hosts, (std::vector<std::string>{"s-web1"}));
    EXPECT_EQ(web.right_hosts, (std::vector<std::string>{"p-web1", "p-web2"}));
    std::map<std::string, const EnvDifference*> by_subject;
    for (const auto& d : web.differences) {
        by_subject[d.subject] = &d;
    }
    EXPECT_EQ(by_subject.size(), 3u);
    ASSERT_TRUE(by_subject.count("kernel"));
    EXPECT_EQ(by_subject["kernel"]->left.value, "6.1.0-17");
    EXPECT_EQ(by_subject["kernel"]->right.value, "6.1.0-18");
    ASSERT_TRUE(by_subject.count("package nginx"));
    // prod hosts disagree among themselves: no common value, both listed
    EXPECT_FALSE(by_subject["package nginx"]->right.value);
    EXPECT_EQ(by_subject["package nginx"]->right.by_host.at("p-web1"), "1.22.1-9+deb12u1");
    EXPECT_EQ(by_subject["package nginx"]->right.by_host.at("p-web2"), "1.22.1-9");
    ASSERT_TRUE(by_subject.count("path /etc/app.conf"));
    EXPECT_EQ(by_subject["path /etc/app.conf"]->left.value,
              "file sha256:bbbbbbbbbbbb 0640 root:root");
    EXPECT_FALSE(by_subject.count("package curl"));
    ASSERT_EQ(cmp.notes.size(), 1u);
    EXPECT_EQ(cmp.notes[0], "roles db: only in prod (p-db1)");
    EXPECT_EQ(cmp.difference_count(), 3u);
}

TEST(CompareEnvironments, IdenticalSidesAndMissingFacts) {
    auto a = host("a", "qa", {"web"}, "k", {{"x", "1"}}, {{"/f", k_conf_a}});
    auto b = host("b", "prod", {"web"}, "k", {{"x", "1"}}, {{"/f", k_conf_a}});
    EXPECT_EQ(compare_environments("qa", {a}, "prod", {b}).difference_count(), 0u);
    // A package only on one side is a difference ("(none)" on the other).
    b.packages["y"] = "2";
    auto cmp = compare_environments("qa", {a}, "prod", {b});
    ASSERT_EQ(cmp.difference_count(), 1u);
    EXPECT_EQ(cmp.roles[0].differences[0].left.value, "(none)");
    // Without facts on one side, packages and kernel are not compared, and a note says so.
    b.has_facts = false;
    cmp = compare_environments("qa", {a}, "prod", {b});
    EXPECT_EQ(cmp.difference_count(), 0u);
    ASSERT_EQ(cmp.notes.size(), 1u);
    EXPECT_NE(cmp.notes[0].find("prod host b: no facts"), std::string::npos);
}

TEST(CompareEnvironments, HostsWithoutAStateReportDoNotMakePathDifferences) {
    auto live = host("local", "qa", {"web"}, "k", {}, {{"/f", k_conf_a}});
    auto remote = host("r1", "prod", {"web"}, "k", {}, {});
    remote.has_paths = false;
    auto cmp = compare_environments("qa", {live}, "prod", {remote});
    EXPECT_EQ(cmp.difference_count(), 0u);
    ASSERT_EQ(cmp.notes.size(), 1u);
    EXPECT_NE(cmp.notes[0].find("prod host r1: no state report"), std::string::npos);
    // An empty value shared by every host is a value, not a disagreement.
    auto a = host("a", "qa", {"web"}, "", {}, {});
    auto b = host("b", "prod", {"web"}, "", {}, {});
    auto same = compare_environments("qa", {a}, "prod", {b});
    ASSERT_EQ(same.roles.size(), 1u);
    EXPECT_EQ(same.difference_count(), 0u);
}

TEST(HostStateJson, RoundTrips) {
    auto h = host("web1", "prod", {"web", "base"}, "6.1", {{"nginx", "1.22"}},
                  {{"/etc/a", k_conf_a}, {"/etc/gone", ManagedPath{"missing", "", "", ""}}});
    auto back = host_state_from_json(host_state_to_json(h));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->host, "web1");
    EXPECT_EQ(back->roles, h.roles);
    EXPECT_EQ(back->paths, h.paths);
    EXPECT_EQ(back->packages, h.packages);
    EXPECT_TRUE(back->has_facts);
    EXPECT_FALSE(host_state_from_json("{\"schema\":\"other\"}"));
    EXPECT_FALSE(host_state_from_json("not json"));
}

TEST(HostStateJson, CarriesTheDriftCountWhenKnown) {
    HostState s;
    s.host = "web1";
    auto back = host_state_from_json(host_state_to_json(s));
    ASSERT_TRUE(back);
    EXPECT_FALSE(back->drift) << "a report without the count (older shipshape) is unknown";
    s.drift = 3;
    back = host_state_from_json(host_state_to_json(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->drift, 3u);
}

TEST(DescribeHost, HashesManagedPathsUnderTheRoot) {
    namespace fs = std::filesystem;
    fs::path root = fs::temp_directory_path() / ("shipshape-report-" + std::to_string(::getpid()));
    fs::create_directories(root / "etc");
    std::ofstream(root / "etc/a") << "hello";
    std::vector<Resource> rs(2);
    rs[0].kind = Kind::file;
    rs[0].path = "/etc/a";
    rs[1].kind = Kind::file;
    rs[1].path = "/etc/missing";
    auto h = describe_host("h", "e", {}, {}, rs, root.string(), nullptr);
    EXPECT_EQ(h.paths.at("/etc/a").sha256,
              "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    EXPECT_EQ(h.paths.at("/etc/a").kind, "file");
    EXPECT_EQ(h.paths.at("/etc/missing").kind, "missing");
    EXPECT_FALSE(h.has_facts);
    fs::remove_all(root);
}

}  // namespace
}  // namespace shipshape::state
