#include "state/udiff.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>
#include "core/testing/skip.hpp"

namespace shipshape::state {
namespace {

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t begin = 0;
    while (begin < text.size()) {
        const std::size_t newline = text.find('\n', begin);
        const std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
        lines.push_back(text.substr(begin, end - begin));
        begin = end;
    }
    return lines;
}

std::string numbered(int from, int to) {
    std::string out;
    for (int i = from; i <= to; ++i) {
        out += "line " + std::to_string(i) + "\n";
    }
    return out;
}

// Everything after the "---" and "+++" lines.
std::string hunks_of(std::string_view diff) {
    const auto lines = lines_of(diff);
    std::string out;
    for (std::size_t i = 2; i < lines.size(); ++i) {
        out += lines[i];
    }
    return out;
}

std::size_t count_hunks(std::string_view diff) {
    std::size_t hunks = 0;
    for (auto line : lines_of(diff)) {
        if (line.starts_with("@@ ")) {
            ++hunks;
        }
    }
    return hunks;
}

bool parse_range(std::string_view& text, std::size_t& start, std::size_t& count) {
    const char* end = text.data() + text.size();
    auto [after_start, start_error] = std::from_chars(text.data(), end, start);
    if (start_error != std::errc{}) {
        return false;
    }
    count = 1;
    if (after_start != end && *after_start == ',') {
        auto [after_count, count_error] = std::from_chars(after_start + 1, end, count);
        if (count_error != std::errc{}) {
            return false;
        }
        after_start = after_count;
    }
    text.remove_prefix(static_cast<std::size_t>(after_start - text.data()));
    return true;
}

// A strict patch applier: context and removed lines must match `before`, hunk counts must match
// their headers, hunks must come in order. nullopt on any mismatch.
std::optional<std::string> apply_patch(std::string_view before, std::string_view patch) {
    if (patch.empty()) {
        return std::string(before);
    }
    const auto old_lines = lines_of(before);
    const auto patch_lines = lines_of(patch);
    if (patch_lines.size() < 3 || !patch_lines[0].starts_with("--- ") ||
        !patch_lines[1].starts_with("+++ ")) {
        return std::nullopt;
    }
    std::string out;
    std::size_t old_pos = 0;
    std::size_t i = 2;
    while (i < patch_lines.size()) {
        std::string_view header = patch_lines[i];
        std::size_t old_start = 0;
        std::size_t old_count = 0;
        std::size_t new_start = 0;
        std::size_t new_count = 0;
        if (!header.starts_with("@@ -")) {
            return std::nullopt;
        }
        header.remove_prefix(4);
        if (!parse_range(header, old_start, old_count) || !header.starts_with(" +")) {
            return std::nullopt;
        }
        header.remove_prefix(2);
        if (!parse_range(header, new_start, new_count) || header != " @@\n") {
            return std::nullopt;
        }
        const std::size_t old_index = old_count == 0 ? old_start : old_start - 1;
        if (old_index < old_pos || old_index > old_lines.size()) {
            return std::nullopt;
        }
        for (; old_pos < old_index; ++old_pos) {
            out += old_lines[old_pos];
        }
        ++i;
        std::size_t seen_old = 0;
        std::size_t seen_new = 0;
        while (i < patch_lines.size() && !patch_lines[i].starts_with("@@ ")) {
            const std::string_view line = patch_lines[i];
            std::string_view content = line.substr(1);
            ++i;
            if (i < patch_lines.size() && patch_lines[i] == "\\ No newline at end of file\n") {
                content.remove_suffix(1);
                ++i;
            }
            if (line[0] == ' ' || line[0] == '-') {
                if (old_pos >= old_lines.size() || old_lines[old_pos] != content) {
                    return std::nullopt;
                }
                ++old_pos;
                ++seen_old;
            }
            if (line[0] == ' ' || line[0] == '+') {
                out += content;
                ++seen_new;
            }
            if (line[0] != ' ' && line[0] != '-' && line[0] != '+') {
                return std::nullopt;
            }
        }
        if (seen_old != old_count || seen_new != new_count) {
            return std::nullopt;
        }
    }
    for (; old_pos < old_lines.size(); ++old_pos) {
        out += old_lines[old_pos];
    }
    return out;
}

// Removed plus added lines of a shortest edit script, by the textbook LCS table.
std::size_t minimal_edits(std::string_view before, std::string_view after) {
    const auto a = lines_of(before);
    const auto b = lines_of(after);
    std::vector<std::vector<std::size_t>> lcs(a.size() + 1,
                                              std::vector<std::size_t>(b.size() + 1, 0));
    for (std::size_t i = a.size(); i-- > 0;) {
        for (std::size_t j = b.size(); j-- > 0;) {
            lcs[i][j] =
                a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
        }
    }
    return a.size() + b.size() - 2 * lcs[0][0];
}

std::size_t edits_in(std::string_view diff) {
    const auto lines = lines_of(diff);
    std::size_t edits = 0;
    for (std::size_t i = 2; i < lines.size(); ++i) {
        if (lines[i][0] == '-' || lines[i][0] == '+') {
            ++edits;
        }
    }
    return edits;
}

TEST(UnifiedDiff, EqualTextsGiveNothing) {
    EXPECT_EQ(unified_diff("", "", "a", "b"), "");
    EXPECT_EQ(unified_diff("x\ny\n", "x\ny\n", "a", "b"), "");
    EXPECT_EQ(unified_diff("x\ny", "x\ny", "a", "b"), "");
}

TEST(UnifiedDiff, EmptyToContent) {
    EXPECT_EQ(unified_diff("", "a\nb\n", "old", "new"),
              "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n");
}

TEST(UnifiedDiff, ContentToEmpty) {
    EXPECT_EQ(unified_diff("a\nb\n", "", "old", "new"),
              "--- old\n+++ new\n@@ -1,2 +0,0 @@\n-a\n-b\n");
}

TEST(UnifiedDiff, SingleChangeInTheMiddleShowsThreeLinesOfContext) {
    const std::string before = numbered(1, 10);
    std::string after = before;
    after.replace(after.find("line 5\n"), 7, "five\n");
    EXPECT_EQ(unified_diff(before, after, "a/f", "b/f"),
              "--- a/f\n+++ b/f\n"
              "@@ -2,7 +2,7 @@\n"
              " line 2\n line 3\n line 4\n-line 5\n+five\n line 6\n line 7\n line 8\n");
}

TEST(UnifiedDiff, CountOfOneIsLeftOut) {
    EXPECT_EQ(unified_diff("a\nb\nc\nd\n", "a\nb\nC\nd\n", "x", "y", {.context = 0}),
              "--- x\n+++ y\n@@ -3 +3 @@\n-c\n+C\n");
}

TEST(UnifiedDiff, EmptySideOfAHunkNamesTheLineBefore) {
    EXPECT_EQ(unified_diff("a\nb\nc\n", "a\nb\nc\nd\ne\n", "x", "y", {.context = 0}),
              "--- x\n+++ y\n@@ -3,0 +4,2 @@\n+d\n+e\n");
    EXPECT_EQ(unified_diff("a\nb\nc\nd\n", "a\nd\n", "x", "y", {.context = 0}),
              "--- x\n+++ y\n@@ -2,2 +1,0 @@\n-b\n-c\n");
}

TEST(UnifiedDiff, FarApartChangesMakeTwoHunks) {
    const std::string before = numbered(1, 30);
    std::string after = before;
    after.replace(after.find("line 3\n"), 7, "three\n");
    after.replace(after.find("line 25\n"), 8, "twenty-five\n");
    EXPECT_EQ(unified_diff(before, after, "x", "y"),
              "--- x\n+++ y\n"
              "@@ -1,6 +1,6 @@\n"
              " line 1\n line 2\n-line 3\n+three\n line 4\n line 5\n line 6\n"
              "@@ -22,7 +22,7 @@\n"
              " line 22\n line 23\n line 24\n-line 25\n+twenty-five\n line 26\n line 27\n"
              " line 28\n");
}

TEST(UnifiedDiff, ChangesWhoseContextTouchesShareAHunk) {
    const std::string before = numbered(1, 30);
    // Six unchanged lines between the changes (2 * context): one hunk.
    std::string near = before;
    near.replace(near.find("line 10\n"), 8, "ten\n");
    near.replace(near.find("line 17\n"), 8, "seventeen\n");
    EXPECT_EQ(unified_diff(before, near, "x", "y"),
              "--- x\n+++ y\n"
              "@@ -7,14 +7,14 @@\n"
              " line 7\n line 8\n line 9\n-line 10\n+ten\n"
              " line 11\n line 12\n line 13\n line 14\n line 15\n line 16\n"
              "-line 17\n+seventeen\n line 18\n line 19\n line 20\n");
    // Seven unchanged lines between them: two hunks.
    std::string apart = before;
    apart.replace(apart.find("line 10\n"), 8, "ten\n");
    apart.replace(apart.find("line 18\n"), 8, "eighteen\n");
    EXPECT_EQ(count_hunks(unified_diff(before, apart, "x", "y")), 2U);
}

TEST(UnifiedDiff, MissingNewlineBefore) {
    EXPECT_EQ(unified_diff("a\nb", "a\nb\n", "x", "y"),
              "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
}

TEST(UnifiedDiff, MissingNewlineAfter) {
    EXPECT_EQ(unified_diff("a\nb\n", "a\nb", "x", "y"),
              "--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n");
}

TEST(UnifiedDiff, MissingNewlineOnBothSidesAsContext) {
    EXPECT_EQ(unified_diff("a\nb\nc", "A\nb\nc", "x", "y"),
              "--- x\n+++ y\n@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n\\ No newline at end of file\n");
}

TEST(UnifiedDiff, CrlfLinesAreDistinctContent) {
    EXPECT_EQ(unified_diff("a\nb\nc\n", "a\nb\r\nc\n", "x", "y"),
              "--- x\n+++ y\n@@ -1,3 +1,3 @@\n a\n-b\n+b\r\n c\n");
}

TEST(UnifiedDiff, NegativeContextCountsAsNone) {
    EXPECT_EQ(unified_diff("a\nb\nc\n", "a\nB\nc\n", "x", "y", {.context = -2}),
              "--- x\n+++ y\n@@ -2 +2 @@\n-b\n+B\n");
}

TEST(UnifiedDiff, PastTheCostLimitOneHunkReplacesTheDifferingMiddle) {
    const std::string before = "keep\n" + numbered(1, 20) + "tail\n";
    std::string after = before;
    after.replace(after.find("line 4\n"), 7, "four\n");
    after.replace(after.find("line 17\n"), 8, "seventeen\n");
    // Minimal: four edits in two hunks.
    EXPECT_EQ(count_hunks(unified_diff(before, after, "x", "y")), 2U);
    const std::string diff = unified_diff(before, after, "x", "y", {.max_cost = 3});
    EXPECT_EQ(count_hunks(diff), 1U);
    EXPECT_EQ(edits_in(diff), 28U);  // lines 4..17 removed and added back
    EXPECT_EQ(apply_patch(before, diff), after);
    // At the limit the diff is still minimal.
    EXPECT_EQ(edits_in(unified_diff(before, after, "x", "y", {.max_cost = 4})), 4U);
}

TEST(UnifiedDiff, TenThousandLinesWithFewChanges) {
    const std::string before = numbered(1, 10000);
    std::string after = before;
    after.replace(after.find("line 10\n"), 8, "ten\n");
    after.replace(after.find("line 5000\n"), 10, "");
    after.replace(after.find("line 9990\n"), 10, "line 9990\nnew\n");
    DiffWork work;
    const std::string diff = unified_diff(before, after, "x", "y", {}, work);
    EXPECT_EQ(count_hunks(diff), 3U);
    EXPECT_EQ(edits_in(diff), 4U);
    EXPECT_EQ(apply_patch(before, diff), after);
    // Work, not time: O((N + M) * D) is about 10^5 comparisons here; a quadratic search would
    // make 10^8.
    EXPECT_GT(work.comparisons, 0U);
    EXPECT_LT(work.comparisons, 1000000U);
}

TEST(UnifiedDiff, TotallyDifferentLargeFilesStayBounded) {
    std::string before;
    std::string after;
    for (int i = 0; i < 10000; ++i) {
        before += "old " + std::to_string(i) + "\n";
        after += "new " + std::to_string(i) + "\n";
    }
    // Cost 20000 is exactly the default limit: the search runs to the end, and must still finish.
    const std::string diff = unified_diff(before, after, "x", "y");
    EXPECT_EQ(edits_in(diff), 20000U);
    EXPECT_EQ(apply_patch(before, diff), after);
    const std::string capped = unified_diff(before, after, "x", "y", {.max_cost = 100});
    EXPECT_EQ(capped, diff);
}

std::string random_text(std::mt19937& rng, std::size_t lines) {
    // A small vocabulary gives many equal lines, so ties and ambiguous alignments get exercised.
    static const std::vector<std::string> k_vocabulary = {
        "a\n", "b\n", "c\n", "d\n", "e\n", "}\n", "\n", "a\r\n", "f\n", "g\n", "  x\n", "y\n"};
    std::uniform_int_distribution<std::size_t> pick(0, k_vocabulary.size() - 1);
    std::string out;
    for (std::size_t i = 0; i < lines; ++i) {
        out += k_vocabulary[pick(rng)];
    }
    return out;
}

std::string mutate(std::mt19937& rng, const std::string& text) {
    auto lines = lines_of(text);
    std::vector<std::string> out(lines.begin(), lines.end());
    std::uniform_int_distribution<int> mutations(0, 6);
    std::uniform_int_distribution<int> kind(0, 2);
    const int count = mutations(rng);
    for (int n = 0; n < count; ++n) {
        const std::string fresh = random_text(rng, 1);
        std::uniform_int_distribution<std::size_t> where(0, out.size());
        const std::size_t pos = where(rng);
        const int k = kind(rng);
        if (k == 0 || out.empty() || pos == out.size()) {
            out.insert(out.begin() + static_cast<std::ptrdiff_t>(pos), fresh);
        } else if (k == 1) {
            out.erase(out.begin() + static_cast<std::ptrdiff_t>(pos));
        } else {
            out[pos] = fresh;
        }
    }
    std::string joined;
    for (const auto& line : out) {
        joined += line;
    }
    return joined;
}

TEST(UnifiedDiff, RandomMutationsRoundTripAndAreMinimal) {
    std::mt19937 rng(20240611);
    std::uniform_int_distribution<std::size_t> length(0, 40);
    std::uniform_int_distribution<int> context(0, 4);
    std::uniform_int_distribution<int> coin(0, 3);
    for (int round = 0; round < 400; ++round) {
        std::string before = random_text(rng, length(rng));
        std::string after = coin(rng) == 0 ? random_text(rng, length(rng)) : mutate(rng, before);
        // Sometimes drop the final newline on one side or both.
        if (coin(rng) == 0 && !before.empty()) {
            before.pop_back();
        }
        if (coin(rng) == 0 && !after.empty()) {
            after.pop_back();
        }
        const DiffOptions options{.context = context(rng)};
        const std::string diff = unified_diff(before, after, "x", "y", options);
        SCOPED_TRACE("round " + std::to_string(round) + "\nbefore:\n" + before + "\nafter:\n" +
                     after + "\ndiff:\n" + diff);
        EXPECT_EQ(diff.empty(), before == after);
        EXPECT_EQ(apply_patch(before, diff), after);
        EXPECT_EQ(edits_in(diff), minimal_edits(before, after));

        // A tight limit may give up, but the result must still apply.
        const std::string capped =
            unified_diff(before, after, "x", "y", {.context = options.context, .max_cost = 2});
        EXPECT_EQ(apply_patch(before, capped), after);
    }
}

class GnuDiff : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists("/usr/bin/diff")) {
            SHIPSHAPE_SKIP_OR_FAIL("no /usr/bin/diff");
        }
        m_dir = std::filesystem::temp_directory_path() /
                ("udiff_test_" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(m_dir);
    }
    void TearDown() override {
        if (!m_dir.empty()) {
            std::filesystem::remove_all(m_dir);
        }
    }

    std::string gnu_hunks(const std::string& before, const std::string& after, int context) {
        write(m_dir / "a", before);
        write(m_dir / "b", after);
        const std::string command = "/usr/bin/diff -U" + std::to_string(context) + " '" +
                                    (m_dir / "a").string() + "' '" + (m_dir / "b").string() +
                                    "' > '" + (m_dir / "out").string() + "'";
        // Exit status 1 means "differences found"; only the output matters here.
        [[maybe_unused]] const int status = std::system(command.c_str());
        std::ifstream in(m_dir / "out", std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        return hunks_of(text.str());
    }

    static void write(const std::filesystem::path& path, const std::string& text) {
        std::ofstream out(path, std::ios::binary);
        out << text;
    }

    std::filesystem::path m_dir;
};

TEST_F(GnuDiff, SameHunksOnUnambiguousCases) {
    const std::string base = numbered(1, 40);
    auto edited = [&](const std::vector<std::pair<std::string, std::string>>& edits) {
        std::string text = base;
        for (const auto& [from, to] : edits) {
            text.replace(text.find(from), from.size(), to);
        }
        return text;
    };
    struct Case {
        std::string before;
        std::string after;
    };
    const std::vector<Case> cases = {
        {base, edited({{"line 20\n", "twenty\n"}})},
        {base, edited({{"line 1\n", ""}, {"line 40\n", "forty\n"}})},
        {base, edited({{"line 5\n", "line 5\nnew a\nnew b\n"}, {"line 12\n", ""}})},
        {base, edited({{"line 10\n", "ten\n"}, {"line 30\n", "thirty\n"}})},
        {base, edited({{"line 3\nline 4\nline 5\n", "x\n"}, {"line 8\n", "eight\n"}})},
        {base, edited({{"line 40\n", "line 40"}})},
        {base + "tail", base + "end\n"},
        {"", base},
        {base, "only\n"},
    };
    for (const int context : {0, 1, 3, 5}) {
        for (std::size_t i = 0; i < cases.size(); ++i) {
            SCOPED_TRACE("case " + std::to_string(i) + ", context " + std::to_string(context));
            const std::string ours =
                unified_diff(cases[i].before, cases[i].after, "a", "b", {.context = context});
            EXPECT_EQ(hunks_of(ours), gnu_hunks(cases[i].before, cases[i].after, context));
        }
    }
}

}  // namespace
}  // namespace shipshape::state
