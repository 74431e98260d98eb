#include "core/redact.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace shipshape {
namespace {

// The specification, written the slow and obvious way: find every occurrence of every secret,
// merge occurrences that share bytes, and write one "***" per merged group.
std::string reference_redact(const std::vector<std::string>& secrets, std::string_view text) {
    std::vector<std::pair<size_t, size_t>> found;  // [begin, end)
    for (const auto& s : secrets) {
        if (s.empty()) {
            continue;
        }
        for (size_t pos = text.find(s); pos != std::string_view::npos;
             pos = text.find(s, pos + 1)) {
            found.emplace_back(pos, pos + s.size());
        }
    }
    std::sort(found.begin(), found.end());
    std::string out;
    size_t at = 0;
    for (size_t i = 0; i < found.size();) {
        const size_t begin = found[i].first;
        size_t end = found[i].second;
        for (++i; i < found.size() && found[i].first < end; ++i) {
            end = std::max(end, found[i].second);
        }
        out.append(text.substr(at, begin - at));
        out += "***";
        at = end;
    }
    out.append(text.substr(at));
    return out;
}

// Feeds `text` to a stream in the pieces that `cuts` (ascending offsets) make.
std::string streamed(const Redactor& r, std::string_view text, const std::vector<size_t>& cuts,
                     size_t* most_held = nullptr) {
    StreamRedactor stream(r);
    std::string out;
    size_t from = 0;
    for (size_t cut : cuts) {
        stream.feed(text.substr(from, cut - from), out);
        if (most_held) {
            *most_held = std::max(*most_held, stream.pending());
        }
        from = cut;
    }
    stream.feed(text.substr(from), out);
    if (most_held) {
        *most_held = std::max(*most_held, stream.pending());
    }
    stream.finish(out);
    return out;
}

TEST(Redactor, ReplacesEverySecretEverywhere) {
    Redactor r({"hunter2", "s3cr3t"});
    struct Row {
        std::string_view text;
        std::string_view expected;
    } rows[] = {
        {"password=hunter2", "password=***"},               // one occurrence
        {"hunter2 hunter2hunter2", "*** ******"},           // repeats; touching ones stay two
        {"token s3cr3t and hunter2", "token *** and ***"},  // several secrets in one line
        {"nothing here", "nothing here"},                   // untouched text
        {"", ""},                                           // empty text
        {"hunter", "hunter"},                               // a prefix is not the secret
        {"hunter2", "***"},                                 // the whole text
    };
    for (const auto& row : rows) {
        EXPECT_EQ(r.apply(row.text), row.expected) << row.text;
    }
}

TEST(Redactor, NoPartOfAnySecretShows) {
    struct Row {
        std::vector<std::string> secrets;
        std::string_view text;
        std::string_view expected;
    } rows[] = {
        // "abc" inside "abcdef": replacing the short one first would leave "***def".
        {{"abc", "abcdef"}, "x=abcdef y=abc", "x=*** y=***"},
        // A secret that is a prefix of another, the longer one cut short: the short one shows.
        {{"abc", "abcdef"}, "abcde", "***de"},
        // Overlapping occurrences of two secrets merge into one mask: neither shows in part.
        {{"xab", "abcd"}, "-xabcd-", "-***-"},
        // A secret overlapping itself ("aa" in "aaa") is one mask, not "***a".
        {{"aa"}, "aaa", "***"},
        // One inside the other, in the middle.
        {{"wxyz", "xy"}, "xy wxyz", "*** ***"},
        // At the very end and the very start.
        {{"end"}, "end of the end", "*** of the ***"},
        // Bytes that are not text: NUL and high bytes match like any other.
        {{std::string("a\0b", 3), "\xff\xfe"}, std::string_view("1a\0b2\xff\xfe", 7), "1***2***"},
    };
    for (const auto& row : rows) {
        Redactor r(row.secrets);
        EXPECT_EQ(r.apply(row.text), row.expected) << row.text;
        EXPECT_EQ(r.apply(row.text), reference_redact(row.secrets, row.text)) << row.text;
    }
}

TEST(Redactor, IgnoresEmptySecretsAndDuplicates) {
    Redactor none({"", ""});
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(none.longest(), 0u);
    EXPECT_EQ(none.apply("a b"), "a b");
    Redactor twice({"pw", "pw"});
    EXPECT_FALSE(twice.empty());
    EXPECT_EQ(twice.apply("pw pw"), "*** ***");
}

TEST(Redactor, AReplacementNeverRevealsOrLoops) {
    // A secret that is itself made of stars must not match the stars it just wrote forever.
    Redactor r({"*"});
    EXPECT_EQ(r.apply("a*b"), "a***b");
}

TEST(Redactor, CountsShortSecrets) {
    EXPECT_EQ(Redactor({"abc", "abcd", "x", ""}).short_secrets(), 2u);
    EXPECT_EQ(Redactor({"long enough"}).short_secrets(), 0u);
}

TEST(Redactor, ApplyInPlaceTouchesOnlyTextWithASecret) {
    Redactor r({"s3cr3t"});
    std::string clean = "nothing to hide";
    const char* before = clean.data();
    r.apply_in_place(clean);
    EXPECT_EQ(clean, "nothing to hide");
    EXPECT_EQ(clean.data(), before);  // untouched, not rebuilt
    std::string dirty = "pw=s3cr3t";
    r.apply_in_place(dirty);
    EXPECT_EQ(dirty, "pw=***");
}

TEST(Redactor, MatchesTheReferenceOnRandomText) {
    // A small alphabet makes overlaps, prefixes and repeats common.
    std::mt19937 rng(14);
    auto word = [&](size_t min, size_t max) {
        std::string s(std::uniform_int_distribution<size_t>(min, max)(rng), ' ');
        for (auto& c : s) {
            c = "abc\n"[std::uniform_int_distribution<int>(0, 3)(rng)];
        }
        return s;
    };
    for (int round = 0; round < 3000; ++round) {
        std::vector<std::string> secrets;
        for (int k = std::uniform_int_distribution<int>(1, 4)(rng); k > 0; --k) {
            secrets.push_back(word(1, 5));
        }
        std::string text = word(0, 40);
        Redactor r(secrets);
        ASSERT_EQ(r.apply(text), reference_redact(secrets, text)) << text;
    }
}

// The streaming cases: each text is split at every offset, and at every pair of offsets, and
// fed byte by byte; the result must equal the one-shot redaction.
struct StreamCase {
    std::vector<std::string> secrets;
    std::string text;
};

std::vector<StreamCase> stream_cases() {
    return {
        // One secret in the middle of a line.
        {{"s3cr3t-value"}, "password=s3cr3t-value and more\n"},
        // At the very end of the stream, with no newline after it.
        {{"s3cr3t-value"}, "tail s3cr3t-value"},
        // Back to back, then overlapping occurrences of two secrets.
        {{"abcd", "cdef"}, "abcdabcd abcdef cdefab"},
        // A secret that is a prefix of another: the long one whole, the short one alone, and
        // the long one cut short at the end of the stream.
        {{"pass", "password1"}, "password1 pass passwor"},
        // A secret containing a newline: it spans two lines of output.
        {{"two\nlines"}, "first two\nlines last\n"},
        // Self-overlapping secret, in a run longer than it.
        {{"aaa"}, "baaaaaaab"},
        // Almost-occurrences everywhere: every position starts a candidate.
        {{"xxxxy"}, "xxxxxxxxxxxxxxxxxxxy xxxx"},
        // Many secrets of different lengths at once.
        {{"k1", "key-two", "third-key!", "4"}, "k1 key-two4third-key! 44 key-tw k"},
    };
}

TEST(StreamRedactor, EverySplitPointGivesTheOneShotResult) {
    for (const auto& c : stream_cases()) {
        Redactor r(c.secrets);
        const std::string whole = r.apply(c.text);
        ASSERT_EQ(whole, reference_redact(c.secrets, c.text));
        const size_t n = c.text.size();
        for (size_t a = 0; a <= n; ++a) {
            size_t held = 0;
            ASSERT_EQ(streamed(r, c.text, {a}, &held), whole) << c.text << " cut at " << a;
            EXPECT_LE(held, r.longest() - 1) << "held back more than a secret's length";
            for (size_t b = a; b <= n; ++b) {
                ASSERT_EQ(streamed(r, c.text, {a, b}), whole)
                    << c.text << " cut at " << a << " and " << b;
            }
        }
        std::vector<size_t> every;
        for (size_t i = 1; i < n; ++i) {
            every.push_back(i);
        }
        EXPECT_EQ(streamed(r, c.text, every), whole) << c.text << " byte by byte";
    }
}

TEST(StreamRedactor, RandomChunkingMatchesTheReference) {
    std::mt19937 rng(4);
    auto word = [&](size_t min, size_t max) {
        std::string s(std::uniform_int_distribution<size_t>(min, max)(rng), ' ');
        for (auto& c : s) {
            c = "ab\n"[std::uniform_int_distribution<int>(0, 2)(rng)];
        }
        return s;
    };
    for (int round = 0; round < 3000; ++round) {
        std::vector<std::string> secrets = {word(1, 6), word(1, 6)};
        std::string text = word(0, 60);
        std::vector<size_t> cuts;
        for (size_t at = 0; at < text.size();) {
            at += std::uniform_int_distribution<size_t>(1, 8)(rng);
            if (at < text.size()) {
                cuts.push_back(at);
            }
        }
        Redactor r(secrets);
        ASSERT_EQ(streamed(r, text, cuts), reference_redact(secrets, text)) << text;
    }
}

TEST(StreamRedactor, ASecretSplitAcrossTwoLargeWritesIsHidden) {
    // The reported case: a 70 KB line written in two chunks, the secret across the boundary.
    const std::string secret = "Zq7-s3cr3t-V4lue";
    Redactor r({secret});
    std::string line = std::string(35000, 'x') + secret + std::string(35000, 'y') + "\n";
    for (size_t cut : {35000u + 1, 35000u + 8, 35000u + 15}) {
        StreamRedactor stream(r);
        std::string out;
        stream.feed(std::string_view(line).substr(0, cut), out);
        EXPECT_EQ(out.find("Zq7"), std::string::npos) << "a secret's start was let out";
        stream.feed(std::string_view(line).substr(cut), out);
        stream.finish(out);
        EXPECT_EQ(out, std::string(35000, 'x') + "***" + std::string(35000, 'y') + "\n");
    }
}

TEST(StreamRedactor, ReleasesCompleteLinesAtOnce) {
    // No secret contains '\n': a line is decided when its newline arrives, so live output is
    // not held back until the next write.
    Redactor r({"long-secret-value"});
    StreamRedactor stream(r);
    std::string out;
    stream.feed("step output long-secret-value\n", out);
    EXPECT_EQ(out, "step output ***\n");
    EXPECT_EQ(stream.pending(), 0u);
    stream.feed("long-sec", out);  // could be the secret's start: held back
    EXPECT_EQ(out, "step output ***\n");
    EXPECT_EQ(stream.pending(), 8u);
    stream.feed("ret-value\n", out);
    EXPECT_EQ(out, "step output ***\n***\n");
    EXPECT_EQ(stream.pending(), 0u);
}

TEST(StreamRedactor, HoldsBackOnlyWhatCouldBeginASecret) {
    Redactor r({"abcdef"});
    StreamRedactor stream(r);
    std::string out;
    stream.feed("xyz abc", out);
    EXPECT_EQ(out, "xyz ");  // " " occurs in no secret: it and all before it are decided
    EXPECT_EQ(stream.pending(), 3u);
    stream.feed("d", out);
    stream.finish(out);
    EXPECT_EQ(out, "xyz abcd");
}

TEST(StreamRedactor, AnEmptyRedactorPassesEverythingThrough) {
    Redactor none;
    StreamRedactor stream(none);
    std::string out;
    stream.feed("as is", out);
    EXPECT_EQ(out, "as is");
    EXPECT_EQ(stream.pending(), 0u);
}

}  // namespace
}  // namespace shipshape
