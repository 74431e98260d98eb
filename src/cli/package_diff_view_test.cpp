// The text of `package diff`: folding keeps every added and removed path named (itself or
// through a directory line) within the line budget; --full and --stat; long diffs are cut.
#include "cli/package_diff_view.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace shipshape::cli {
namespace {

using package::Entry;
using package::EntryType;

Entry file(const std::string& path) {
    return {path, EntryType::file, 10, std::string(64, 'a'), 0644, "root", "root", ""};
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        out.push_back(l);
    }
    return out;
}

// The "+ ..." lines of the added list: each a path or a directory ending in '/'.
std::vector<std::string> added_lines(const std::string& text) {
    std::vector<std::string> out;
    for (const auto& l : lines_of(text)) {
        if (l.rfind("    + ", 0) == 0) {
            std::string rest = l.substr(6);
            out.push_back(rest.substr(0, rest.find(' ')));
        }
    }
    return out;
}

package::PackageDiff scattered(size_t dirs, size_t per_dir) {
    package::PackageDiff d;
    d.a.package = d.b.package = "booking";
    d.a.version = "1.0";
    d.b.version = "1.1";
    for (size_t i = 0; i < dirs; ++i) {
        for (size_t j = 0; j < per_dir + i % 3; ++j) {
            d.files.added.push_back(
                file("/usr/share/booking/d" + std::to_string(i) + "/f" + std::to_string(j)));
        }
    }
    d.files.added.push_back(file("/usr/bin/booking-new"));
    std::sort(d.files.added.begin(), d.files.added.end(),
              [](const Entry& x, const Entry& y) { return x.path < y.path; });
    return d;
}

TEST(PackageDiffView, FoldingNamesEveryAddedPathWithinTheBudget) {
    // Rows: (directories, entries per directory); each proves the fold for one shape.
    const std::pair<size_t, size_t> shapes[] = {
        {3, 200},   // few big directories: one line each
        {100, 20},  // more directories than lines: the largest get lines, the rest one line
        {1, 5000},  // one huge directory
        {40, 1},    // many single files in many directories
    };
    for (auto [dirs, per_dir] : shapes) {
        SCOPED_TRACE(std::to_string(dirs) + "x" + std::to_string(per_dir));
        auto d = scattered(dirs, per_dir);
        auto text = render_package_diff(d, {"a", "b", false, false, false});
        auto lines = added_lines(text);
        EXPECT_LE(lines.size(), k_fold_lines);
        for (const auto& e : d.files.added) {
            bool named = std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
                return l == e.path || (l.back() == '/' && e.path.rfind(l, 0) == 0);
            });
            ASSERT_TRUE(named) << e.path << " is not named in\n" << text;
        }
        // --full names each path on its own line.
        auto full = render_package_diff(d, {"a", "b", false, true, false});
        EXPECT_EQ(added_lines(full).size(), d.files.added.size());
    }
}

TEST(PackageDiffView, TheRestOfADirectorySaysSo) {
    auto text = render_package_diff(scattered(100, 20), {"a", "b", false, false, false});
    EXPECT_NE(text.find("+ /usr/share/booking/ (other "), std::string::npos) << text;
}

TEST(PackageDiffView, StatIsTheSummaryAndEqualSidesSayNoDifferences) {
    auto d = scattered(2, 2);
    auto stat = render_package_diff(d, {"a.deb", "b.deb", true, false, false});
    EXPECT_EQ(stat.rfind("package diff: booking 1.0 → 1.1 ()\n  a: a.deb\n  b: b.deb\n", 0), 0U)
        << stat;
    EXPECT_NE(stat.find("  files         6 added, 0 removed, 0 changed\n"), std::string::npos)
        << stat;
    EXPECT_EQ(stat.find("Files"), std::string::npos);
    package::PackageDiff same;
    EXPECT_NE(render_package_diff(same, {"a", "b", false, false, false}).find("no differences"),
              std::string::npos);
}

TEST(PackageDiffView, LongDiffsAreCutUnlessFull) {
    package::PackageDiff d;
    std::string diff = "--- postinst (1)\n+++ postinst (2)\n@@ -1,500 +1,500 @@\n";
    for (int i = 0; i < 500; ++i) {
        diff += "+line " + std::to_string(i) + "\n";
    }
    d.scripts.push_back({"postinst", package::Change::changed, "x", "y", 1, 2, diff});
    auto text = render_package_diff(d, {"a", "b", false, false, false});
    EXPECT_NE(text.find("… 383 more lines of diff (--full shows all)"), std::string::npos);
    EXPECT_EQ(text.find("+line 499"), std::string::npos);
    auto full = render_package_diff(d, {"a", "b", false, true, false});
    EXPECT_NE(full.find("+line 499"), std::string::npos);
}

TEST(PackageDiffView, GroupedNumbers) {
    EXPECT_EQ(grouped_number(0), "0");
    EXPECT_EQ(grouped_number(999), "999");
    EXPECT_EQ(grouped_number(1234), "1,234");
    EXPECT_EQ(grouped_number(1234567), "1,234,567");
}

}  // namespace
}  // namespace shipshape::cli
