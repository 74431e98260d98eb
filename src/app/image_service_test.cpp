// image snapshot from facts: the majority's package set and versions, dissent recorded,
// --keep filters, roles from the inventory, the smallest limits, failed hosts named.
#include <gtest/gtest.h>

#include "app/image_service.hpp"

namespace shipshape::app {
namespace {

HostFactsResult host(const std::string& name, std::vector<facts::Package> packages,
                     uint64_t memory = 4ULL << 30) {
    HostFactsResult r;
    r.host.name = name;
    facts::HostFacts f;
    f.host = name;
    f.os.codename = "bookworm";
    f.os.architecture = "x86_64";
    f.memory.total = memory;
    f.cpu.threads = 4;
    f.limits.rlimits["nofile"] = 1024;
    for (auto& p : packages) {
        p.status = p.status.empty() ? "installed" : p.status;
        p.architecture = p.architecture.empty() ? "amd64" : p.architecture;
    }
    f.packages = std::move(packages);
    r.facts = std::move(f);
    return r;
}

Project project() {
    Project p;
    p.root = "/srv/ops";
    p.inventory.groups["web"] = {"web1", "web2", "web3"};
    p.inventory.group_roles["web"] = {"booking"};
    return p;
}

TEST(ImageSnapshot, PinsTheMajorityAndRecordsDissent) {
    std::vector<HostFactsResult> hosts = {
        host("web1", {{"libc6", "2.36-9+deb12u14", "", ""},
                      {"openssl", "3.0.15-1", "", ""},
                      {"strace", "6.1-0.1", "", ""}}),
        host("web2", {{"libc6", "2.36-9+deb12u14", "", ""}, {"openssl", "3.0.17-1", "", ""}},
             2ULL << 30),
        host("web3", {{"libc6", "2.36-9+deb12u14", "", ""},
                      {"openssl", "3.0.17-1", "", ""},
                      {"half", "1.0", "amd64", "half-installed"}})};
    auto snap = snapshot_from_facts(project(), hosts, {"prod", {}, true, "2026-12-07T00:00:00Z"});
    ASSERT_TRUE(snap) << snap.error().message();
    const image::Spec& s = snap->spec;
    EXPECT_EQ(s.release, "bookworm");
    EXPECT_EQ(s.architecture, "amd64");
    ASSERT_EQ(s.packages.size(), 2U);  // strace (1 of 3) and a half-installed package left out
    EXPECT_EQ(s.packages[0].name, "libc6");
    EXPECT_EQ(s.packages[1].name, "openssl");
    EXPECT_EQ(s.packages[1].version, "3.0.17-1");
    EXPECT_EQ(s.roles, std::vector<std::string>{"booking"});
    EXPECT_EQ(s.limits.memory_bytes, 2ULL << 30);
    EXPECT_EQ(s.limits.cpus, 4.0);
    EXPECT_EQ(s.limits.open_files, 1024U);
    ASSERT_EQ(snap->dissents.size(), 2U);
    EXPECT_EQ(snap->dissents[0].package, "openssl");
    EXPECT_EQ(snap->dissents[0].others,
              (std::vector<std::pair<std::string, std::string>>{{"web1", "3.0.15-1"}}));
    EXPECT_EQ(snap->dissents[1].package, "strace");
    std::string text = image::render_spec(s, snap->header, snap->dissents);
    auto back = image::parse_spec(text, "prod.toml");
    ASSERT_TRUE(back) << back.error().message() << text;
    EXPECT_EQ(back->packages.size(), 2U);
    EXPECT_NE(text.find("web1 has 3.0.15-1"), std::string::npos) << text;
}

TEST(ImageSnapshot, ATieTakesTheNewerVersionAndKeepFilters) {
    std::vector<HostFactsResult> hosts = {
        host("a", {{"libc6", "2.36-9", "", ""}, {"vim", "2:9.0.1", "", ""}}),
        host("b", {{"libc6", "2.36-10", "", ""}, {"vim", "2:9.0.1", "", ""}})};
    auto snap = snapshot_from_facts(project(), hosts, {"prod", {"lib*"}, false, "t"});
    ASSERT_TRUE(snap);
    ASSERT_EQ(snap->spec.packages.size(), 1U);
    EXPECT_EQ(snap->spec.packages[0].version, "2.36-10");  // 10 > 9 as Debian versions
    EXPECT_TRUE(snap->spec.roles.empty());
}

TEST(ImageSnapshot, FailedHostsAreNamed) {
    HostFactsResult bad;
    bad.host.name = "db1";
    bad.error = Error(Errc::unreachable, "ssh: connection refused");
    auto none = snapshot_from_facts(project(), {bad}, {"prod", {}, true, "t"});
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().message().find("db1 (ssh: connection refused)"), std::string::npos);
    auto some = snapshot_from_facts(project(), {bad, host("web1", {{"libc6", "2.36-9", "", ""}})},
                                    {"prod", {}, true, "t"});
    ASSERT_TRUE(some);
    EXPECT_EQ(some->header.back(), "left out (no facts): db1 (ssh: connection refused)");
}

TEST(ImageSnapshot, ArchitectureNames) {
    EXPECT_EQ(debian_architecture("x86_64"), "amd64");
    EXPECT_EQ(debian_architecture("aarch64"), "arm64");
    EXPECT_EQ(debian_architecture("vax"), "");
}

TEST(ImageSnapshot, LabPackagesAreCompiledIn) {
    const auto& p = lab_packages();
    EXPECT_NE(std::find(p.begin(), p.end(), "openssh-server"), p.end());
    EXPECT_NE(std::find(p.begin(), p.end(), "libsqlite3-0"), p.end());
    for (const auto& name : p) {
        EXPECT_NE(name[0], '#');
    }
}

}  // namespace
}  // namespace shipshape::app
