#include "core/redact.hpp"

#include <gtest/gtest.h>

namespace shipshape {
namespace {

TEST(Redactor, ReplacesEverySecretEverywhere) {
    Redactor r({"hunter2", "s3cr3t"});
    struct Row {
        std::string_view text;
        std::string_view expected;
    } rows[] = {
        {"password=hunter2", "password=***"},               // one occurrence
        {"hunter2 hunter2hunter2", "*** ******"},           // repeats, also back to back
        {"token s3cr3t and hunter2", "token *** and ***"},  // several secrets in one line
        {"nothing here", "nothing here"},                   // untouched text
        {"", ""},                                           // empty text
        {"hunter", "hunter"},                               // a prefix is not the secret
    };
    for (const auto& row : rows) {
        EXPECT_EQ(r.apply(row.text), row.expected) << row.text;
    }
}

TEST(Redactor, LongerSecretsFirstSoNoPartHalfShows) {
    // "abc" inside "abcdef": replacing the short one first would leave "***def".
    Redactor r({"abc", "abcdef"});
    EXPECT_EQ(r.apply("x=abcdef y=abc"), "x=*** y=***");
}

TEST(Redactor, IgnoresEmptySecretsAndDuplicates) {
    Redactor none({"", ""});
    EXPECT_TRUE(none.empty());
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

}  // namespace
}  // namespace shipshape
