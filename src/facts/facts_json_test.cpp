#include "facts/facts_json.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "facts/diff.hpp"

namespace shipshape::facts {
namespace {

HostFacts sample() {
    HostFacts f;
    f.host = "web1";
    f.collected_at = 1234;
    f.os.kernel = "6.1.0-18-amd64";
    f.os.name = "Debian GNU/Linux 12 (bookworm)";
    f.os.version_id = "12";
    f.os.release = "12.11";
    f.cpu.threads = 4;
    f.memory.total = 8ull << 30;
    f.mounts.push_back({"/dev/vda1", "/", "ext4", 100, 50, 10, 5});
    f.network.interfaces.push_back({"eth0", "up", 1500, "52:54:00:12:34:56", {"10.0.0.5/24"}});
    f.network.listening.push_back({"tcp", "0.0.0.0", 22, 1, "sshd"});
    f.packages.push_back({"libssl3", "3.0.11-1~deb12u2", "amd64", "installed"});
    f.limits.rlimits["nofile"] = 1024;
    f.limits.rlimits["as"] = std::numeric_limits<uint64_t>::max();
    f.limits.sysctl["net.core.somaxconn"] = "4096";
    f.limits.cgroup_version = 2;
    f.limits.cgroup_cpu_limit = 0.5;
    f.env_names = {"HOME", "PATH"};
    f.problems = {"services: systemd is not running"};
    return f;
}

TEST(FactsJson, RoundTripsEverySection) {
    HostFacts f = sample();
    std::string doc = to_json(f, {}, -1);
    auto back = from_json(doc);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(to_json(*back, {}, -1), doc);
    EXPECT_EQ(back->limits.rlimits.at("as"), std::numeric_limits<uint64_t>::max());
    EXPECT_TRUE(diff_facts(f, *back).empty());
    EXPECT_EQ(back->os.release, "12.11");
    EXPECT_NE(doc.find("\"release\":\"12.11\""), std::string::npos) << doc;
}

TEST(FactsJson, SectionsCanBeLeftOutAndBadInputIsAnError) {
    std::string doc = to_json(sample(), {"os"}, -1);
    EXPECT_NE(doc.find("\"os\""), std::string::npos);
    EXPECT_EQ(doc.find("\"packages\""), std::string::npos);
    auto bad = from_json("{not json");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
}

TEST(DiffFacts, NamesBothSides) {
    HostFacts a = sample();
    HostFacts b = sample();
    b.os.kernel = "6.1.0-20-amd64";
    b.os.release = "12.4";
    b.packages[0].version = "3.0.2-0ubuntu1";
    b.packages.push_back({"nginx", "1.22.1-9", "amd64", "installed"});
    b.limits.rlimits["nofile"] = 65536;
    b.network.listening.clear();
    auto d = diff_facts(a, b);
    std::vector<std::string> got;
    for (const auto& x : d) {
        got.push_back(x.section + " " + x.subject + ": " + x.left + " | " + x.right);
    }
    EXPECT_EQ(got, (std::vector<std::string>{
                       "os release: 12.11 | 12.4",
                       "os kernel: 6.1.0-18-amd64 | 6.1.0-20-amd64",
                       "packages libssl3: 3.0.11-1~deb12u2 | 3.0.2-0ubuntu1",
                       "packages nginx:  | 1.22.1-9",
                       "limits rlimit nofile: 1024 | 65536",
                       "ports 22/tcp: sshd | ",
                   }));
}

TEST(OsLabel, AddsThePointReleaseWhenItSaysMore) {
    OsFacts os;
    os.id = "debian";
    os.name = "Debian GNU/Linux 12 (bookworm)";
    os.version_id = "12";
    EXPECT_EQ(os_label(os), "Debian GNU/Linux 12 (bookworm)");  // an old snapshot: no release
    os.release = "12";
    EXPECT_EQ(os_label(os), "Debian GNU/Linux 12 (bookworm)");  // nothing more to say
    os.release = "12.11";
    EXPECT_EQ(os_label(os), "Debian GNU/Linux 12 (bookworm), 12.11");
    os.name.clear();
    EXPECT_EQ(os_label(os), "debian, 12.11");
}

}  // namespace
}  // namespace shipshape::facts
