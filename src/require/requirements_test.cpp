#include <gtest/gtest.h>

#include "require/requirements.hpp"

namespace shipshape::require {
namespace {

constexpr const char* k_example = R"([resources]
memory = "2 GiB"
cpus = 2
[[disk]]
path = "/var/lib/booking"
free = "10 GiB"
[[port]]
number = 8080
protocol = "tcp"
[[package]]
name = "libssl3"
version = ">= 3.0.9"
[[package]]
name = "python2"
absent = true
[kernel]
version = ">= 5.10"
[limits]
nofile = 65536
[env]
required = ["BOOKING_DB_URL"]
)";

facts::HostFacts sample_host() {
    facts::HostFacts f;
    f.host = "web1";
    f.os.kernel = "6.1.0-18-amd64";
    f.cpu.threads = 4;
    f.memory.total = 8ull << 30;
    f.memory.available = 3ull << 30;
    f.mounts.push_back({"/dev/vda1", "/", "ext4", 100ull << 30, 50ull << 30, 0, 0});
    f.mounts.push_back({"/dev/vdb", "/var/lib", "ext4", 10ull << 30, 5ull << 30, 0, 0});
    f.network.listening.push_back({"tcp6", "::", 8080, 321, "nginx"});
    f.packages.push_back({"libssl3", "3.0.2-0ubuntu1", "amd64", "installed"});
    f.packages.push_back({"python3", "3.11.2-1", "amd64", "installed"});
    f.limits.rlimits["nofile"] = 1024;
    f.env_names = {"BOOKING_DB_URL", "PATH"};
    return f;
}

TEST(ParseRequirements, ReadsTheExample) {
    auto r = parse_requirements(k_example, "requirements.toml");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r->memory, 2ull << 30);
    EXPECT_EQ(*r->cpus, 2);
    ASSERT_EQ(r->disks.size(), 1u);
    EXPECT_EQ(r->disks[0].free, 10ull << 30);
    EXPECT_EQ(r->packages[0].version->text(), ">= 3.0.9");
    EXPECT_TRUE(r->packages[1].absent);
    EXPECT_EQ(r->kernel->text(), ">= 5.10");
    EXPECT_EQ(r->limits.at(0), (std::pair<std::string, uint64_t>{"nofile", 65536}));
    EXPECT_EQ(r->env, std::vector<std::string>{"BOOKING_DB_URL"});
}

TEST(ParseRequirements, RejectsBadFilesWithPositions) {
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        // Unknown section.
        {"[resource]\nmemory = \"1G\"\n",
         "r.toml:1:2: unknown key 'resource' in requirements.toml (did you mean 'resources'?)"},
        // A size that is not one.
        {"[resources]\nmemory = \"lots\"\n",
         "r.toml:2:10: resources 'memory': invalid size 'lots' (a number must come first): "
         "expected a number and a unit, e.g. 512M, 2 GiB or 10 GB"},
        // A version constraint that is not one.
        {"[[package]]\nname = \"x\"\nversion = \"=> 1\"\n",
         "r.toml:3:11: package 'x': invalid version constraint '=> 1': expected an operator (<, "
         "<=, =, !=, >=, >) and a Debian version, e.g. \">= 3.0.9\" or \">= 1:2.4~rc1-2\""},
        // Port range.
        {"[[port]]\nnumber = 70000\n",
         "r.toml:2:10: port 'number' must be between 1 and 65535, found 70000"},
        // Unknown limit.
        {"[limits]\nfiles = 10\n",
         "r.toml:2:1: unknown limit 'files' in [limits] (expected one of: nofile, nproc, core, "
         "memlock, stack, fsize, as, cpu)"},
        // Relative disk path.
        {"[[disk]]\npath = \"var\"\nfree = \"1G\"\n",
         "r.toml:1:1: [[disk]] needs an absolute 'path'"},
        // Absent and version together.
        {"[[package]]\nname = \"x\"\nabsent = true\nversion = \"1\"\n",
         "r.toml:4:11: package 'x' is absent: it cannot also have a 'version'"},
        // Broken TOML.
        {"[resources\n",
         "r.toml:1:11: invalid TOML: Error while parsing table header: expected ']', saw '\\n'"},
    };
    for (const auto& row : rows) {
        auto r = parse_requirements(row.text, "r.toml");
        ASSERT_FALSE(r) << row.text;
        EXPECT_EQ(r.error().message(), row.message);
    }
}

TEST(CheckRequirements, PassesAndFailsOnPurpose) {
    auto req = parse_requirements(k_example, "requirements.toml");
    ASSERT_TRUE(req);
    auto probe = [](const std::string& path) -> std::optional<bool> {
        return path == "/var/lib/booking";
    };
    auto rows = check_requirements(*req, sample_host(), probe);
    std::vector<std::string> got;
    for (const auto& r : rows) {
        got.push_back(r.kind + " " + r.subject + " | " + r.needed + " | " + r.found + " | " +
                      std::string(verdict_name(r.verdict)));
    }
    EXPECT_EQ(got, (std::vector<std::string>{
                       "memory available | >= 2.0 GiB | 3.0 GiB | ok",
                       "cpus online | >= 2 | 4 | ok",
                       "disk /var/lib/booking | >= 10.0 GiB free | 5.0 GiB free on /var/lib | FAIL",
                       "port 8080/tcp | free | in use by nginx (pid 321) on :: | FAIL",
                       "package libssl3 | >= 3.0.9 | 3.0.2-0ubuntu1 | FAIL",
                       "package python2 | absent | absent | ok",
                       "kernel release | >= 5.10 | 6.1.0-18-amd64 | ok",
                       "limit nofile | >= 65536 | 1024 | FAIL",
                       "env BOOKING_DB_URL | set | set | ok",
                   }));
    EXPECT_EQ(rows[4].reason, "libssl3 3.0.2-0ubuntu1 does not satisfy >= 3.0.9");
}

TEST(CheckRequirements, WhatTheFactsCannotTellIsUnknownNotPassed) {
    auto req = parse_requirements("[[disk]]\npath = \"/nope\"\nfree = \"1M\"\n", "r.toml");
    ASSERT_TRUE(req);
    auto rows = check_requirements(*req, sample_host(),
                                   [](const std::string&) -> std::optional<bool> { return false; });
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].verdict, Verdict::unknown);
    EXPECT_EQ(rows[0].reason, "the path does not exist on this host");
}

TEST(ExplainRequirements, RendersMarkdown) {
    auto req = parse_requirements(k_example, "requirements.toml");
    std::string md = explain_requirements(*req);
    EXPECT_NE(md.find("# Operating requirements"), std::string::npos);
    EXPECT_NE(md.find("| `libssl3` | >= 3.0.9 |"), std::string::npos);
    EXPECT_NE(md.find("| `python2` | must **not** be installed |"), std::string::npos);
    EXPECT_NE(md.find("- `BOOKING_DB_URL`"), std::string::npos);
}

}  // namespace
}  // namespace shipshape::require
