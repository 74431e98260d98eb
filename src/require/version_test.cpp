#include "require/version.hpp"

#include <apt-pkg/debversion.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace shipshape::require {
namespace {

int sign(int v) {
    return (v > 0) - (v < 0);
}

TEST(CompareVersions, DebianOrdering) {
    struct Row {
        const char* a;
        const char* b;
        int order;
    };
    const Row rows[] = {
        {"1.0", "1.0", 0},                // equal
        {"1.0~rc1", "1.0", -1},           // tilde sorts before anything, even the end
        {"1.0~~", "1.0~", -1},            // double tilde before single
        {"1:0.9", "2.0", 1},              // the epoch wins
        {"1.0-1", "1.0-2", -1},           // revisions compare
        {"1.0a", "1.0", 1},               // letters after the end
        {"1.0+b1", "1.0", 1},             // binNMU suffix
        {"3.0.2-0ubuntu1", "3.0.9", -1},  // the libssl example
        {"5.10.0-28-amd64", "5.10", 1},   // a kernel release against a short constraint
        {"0:1.2", "1.2", 0},              // an explicit zero epoch is no epoch
        {"10", "9", 1},                   // numeric, not lexical
    };
    for (const auto& r : rows) {
        EXPECT_EQ(sign(compare_versions(r.a, r.b)), r.order) << r.a << " vs " << r.b;
        EXPECT_EQ(sign(compare_versions(r.b, r.a)), -r.order) << r.b << " vs " << r.a;
    }
}

TEST(ParseConstraint, OperatorsAndErrors) {
    EXPECT_EQ(parse_constraint(">= 3.0.9")->text(), ">= 3.0.9");
    EXPECT_EQ(parse_constraint("<<2")->text(), "< 2");
    EXPECT_EQ(parse_constraint(">> 2")->text(), "> 2");
    EXPECT_EQ(parse_constraint("1.2-3")->text(), "= 1.2-3");
    EXPECT_EQ(parse_constraint("!= 1:2.0~rc1")->text(), "!= 1:2.0~rc1");
    EXPECT_TRUE(parse_constraint(">= 3.0.9")->satisfied_by("3.0.11-1~deb12u2"));
    EXPECT_FALSE(parse_constraint(">= 3.0.9")->satisfied_by("3.0.2"));
    auto bad = parse_constraint(">= ");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(),
              "invalid version constraint '>= ': expected an operator (<, <=, =, !=, >=, >) and a "
              "Debian version, e.g. \">= 3.0.9\" or \">= 1:2.4~rc1-2\"");
    EXPECT_FALSE(parse_constraint("=> 1"));
    EXPECT_FALSE(parse_constraint(">= 1 2"));
}

// Ground truth: dpkg itself, on this machine's installed versions plus generated tricky ones.
std::vector<std::string> installed_versions() {
    std::vector<std::string> out;
    FILE* p = ::popen("dpkg-query -W -f='${Version}\\n' 2>/dev/null", "r");
    if (!p) {
        return out;
    }
    char line[512];
    std::set<std::string> seen;
    while (std::fgets(line, sizeof line, p)) {
        std::string v(line);
        while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) {
            v.pop_back();
        }
        if (!v.empty() && seen.insert(v).second) {
            out.push_back(v);
        }
    }
    ::pclose(p);
    return out;
}

// dpkg is the ground truth but costs a process per comparison (3,000 pairs took 40 s), so it
// checks the pairs that reach deep into the algorithm; the libapt test below covers volume.
// Pairs that differ early (another epoch, another first number) prove little.
TEST(CompareVersions, AgreesWithDpkgOnPairsThatDifferLate) {
    std::vector<std::string> installed = installed_versions();
    ASSERT_GT(installed.size(), 100u) << "dpkg-query listed too few versions";
    std::mt19937 rng(20261125);
    const char* parts[] = {"0",    "1",   "01",    "2", "10", "a",         "b", "~",
                           "~rc1", "+b1", "+dfsg", ".", "-1", "-0ubuntu2", ""};
    auto part = [&] { return std::string(parts[rng() % std::size(parts)]); };
    auto tidy = [](std::string v) {
        // At most one revision, and no trailing separator: keep the versions valid for dpkg.
        size_t dash = v.find('-');
        if (dash != std::string::npos) {
            auto tail = v.begin() + static_cast<std::ptrdiff_t>(dash) + 1;
            v.erase(std::remove(tail, v.end(), '-'), v.end());
        }
        if (v.back() == '-' || v.back() == '.') {
            v += "1";
        }
        return v;
    };
    std::vector<std::pair<std::string, std::string>> pairs;
    // Siblings: one generated version (epochs, tildes, letters, revisions, leading zeros)
    // against itself with its last part changed or one part added, so only the tail differs.
    for (int i = 0; i < 150; ++i) {
        std::string stem = std::to_string(rng() % 2) + ":" + std::to_string(rng() % 3);
        int n = 1 + static_cast<int>(rng() % 4);
        for (int j = 0; j < n; ++j) {
            stem += part();
        }
        pairs.emplace_back(tidy(stem + part()), tidy(stem + part() + part()));
    }
    // Installed versions next to each other in our order: the closest real-world pairs
    // ("2.36.1-8" and "2.36.1-8+deb12u1").
    std::sort(installed.begin(), installed.end(), [](const std::string& a, const std::string& b) {
        return compare_versions(a, b) < 0;
    });
    for (size_t i = 0; i + 1 < installed.size(); i += installed.size() / 50 + 1) {
        pairs.emplace_back(installed[i], installed[i + 1]);
    }
    // The classic corner cases, each against the next.
    const char* corners[] = {"1.0~~a", "1.0~", "1.0", "1.0+", "1.0.",  "1.0a-1", "1.0A-1",
                             "0:1",    "00:1", "1:1", "1.01", "1.001", "1-2-3"};
    for (size_t i = 0; i + 1 < std::size(corners); ++i) {
        pairs.emplace_back(corners[i], corners[i + 1]);
    }
    std::string script_path = "/tmp/shipshape-dpkg-compare-" + std::to_string(::getpid()) + ".sh";
    FILE* script = std::fopen(script_path.c_str(), "w");
    ASSERT_NE(script, nullptr);
    for (const auto& [a, b] : pairs) {
        std::fprintf(script,
                     "if dpkg --compare-versions '%s' lt '%s'; then echo -1; "
                     "elif dpkg --compare-versions '%s' eq '%s'; then echo 0; else echo 1; fi\n",
                     a.c_str(), b.c_str(), a.c_str(), b.c_str());
    }
    std::fclose(script);
    FILE* p = ::popen(("sh " + script_path + " 2>/dev/null").c_str(), "r");
    ASSERT_NE(p, nullptr);
    size_t checked = 0, mismatches = 0;
    char line[32];
    for (const auto& [a, b] : pairs) {
        if (!std::fgets(line, sizeof line, p)) {
            break;
        }
        int want = std::atoi(line);
        int got = sign(compare_versions(a, b));
        ++checked;
        if (got != want) {
            ++mismatches;
            ADD_FAILURE() << "'" << a << "' vs '" << b << "': dpkg says " << want << ", we say "
                          << got;
        }
    }
    ::pclose(p);
    std::remove(script_path.c_str());
    EXPECT_EQ(checked, pairs.size());
    EXPECT_EQ(mismatches, 0u);
}

// A second oracle, cheap enough for many more pairs: apt's own implementation.
TEST(CompareVersions, AgreesWithLibaptOnEveryPairOfASample) {
    std::vector<std::string> versions = installed_versions();
    ASSERT_GT(versions.size(), 100u);
    const char* extra[] = {"1.0~",   "1.0~~a", "1.0+",  "1.0.",
                           "1:1",    "0:1",    "00:1",  "1.0-",
                           "1.0a-1", "1.0A-1", "1-2-3", "2:1.0~rc1+dfsg-1~bpo12+1",
                           "1.01",   "1.001"};
    versions.insert(versions.end(), std::begin(extra), std::end(extra));
    std::mt19937 rng(7);
    size_t mismatches = 0;
    for (int n = 0; n < 200000; ++n) {
        const std::string& a = versions[rng() % versions.size()];
        const std::string& b = versions[rng() % versions.size()];
        int want = sign(debVS.CmpVersion(a, b));
        int got = sign(compare_versions(a, b));
        if (want != got && ++mismatches < 20) {
            ADD_FAILURE() << "'" << a << "' vs '" << b << "': libapt says " << want << ", we say "
                          << got;
        }
    }
    EXPECT_EQ(mismatches, 0u);
}

}  // namespace
}  // namespace shipshape::require
