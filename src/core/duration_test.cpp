#include "core/duration.hpp"

#include <gtest/gtest.h>

namespace shipshape {
namespace {

TEST(ParseDuration, AcceptsUnitsAndSequences) {
    struct Row {
        const char* text;
        long long ms;
    };
    const Row rows[] = {
        {"500ms", 500},         // milliseconds
        {"30s", 30000},         // seconds
        {"2m", 120000},         // minutes, the example from the checklist spec
        {"1h30m", 5400000},     // a sequence of pairs adds up
        {"1d", 86400000},       // days
        {"0s", 0},              // zero is allowed (means "no timeout" to the caller)
        {"1m30s250ms", 90250},  // three pairs
    };
    for (const auto& row : rows) {
        auto d = parse_duration(row.text);
        ASSERT_TRUE(d) << row.text << ": " << d.error().message();
        EXPECT_EQ(d->count(), row.ms) << row.text;
    }
}

TEST(ParseDuration, RejectsMalformedInputWithReason) {
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        // empty string
        {"",
         "invalid duration '' (empty): expected a duration such as 500ms, 30s, 2m, 1h30m or 1d"},
        // a bare number has no unit
        {"30",
         "invalid duration '30' (missing unit): expected a duration such as 500ms, 30s, 2m, "
         "1h30m or 1d"},
        // unknown unit
        {"3w",
         "invalid duration '3w' (unknown unit 'w'): expected a duration such as 500ms, 30s, "
         "2m, 1h30m or 1d"},
        // decimals are not accepted
        {"1.5s",
         "invalid duration '1.5s' (missing unit): expected a duration such as 500ms, 30s, "
         "2m, 1h30m or 1d"},
        // leading unit
        {"s5",
         "invalid duration 's5' (a number must come first): expected a duration such as "
         "500ms, 30s, 2m, 1h30m or 1d"},
        // overflow guard
        {"99999999999s",
         "invalid duration '99999999999s' (too large): expected a duration such as "
         "500ms, 30s, 2m, 1h30m or 1d"},
    };
    for (const auto& row : rows) {
        auto d = parse_duration(row.text);
        ASSERT_FALSE(d) << row.text;
        EXPECT_EQ(d.error().message(), row.message);
        EXPECT_EQ(d.error().code(), Errc::invalid_argument);
    }
}

TEST(FormatDuration, PicksAReadableUnit) {
    EXPECT_EQ(format_duration(Millis(850)), "850ms");
    EXPECT_EQ(format_duration(Millis(12345)), "12.3s");
    EXPECT_EQ(format_duration(Millis(245000)), "4m05s");
    EXPECT_EQ(format_duration(Millis(7800000)), "2h10m");
}

}  // namespace
}  // namespace shipshape
