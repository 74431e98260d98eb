#include "core/text.hpp"

#include <gtest/gtest.h>

#include <array>

#include "core/clock.hpp"

namespace shipshape {
namespace {

TEST(Text, Trim) {
    EXPECT_EQ(trim("  a b \t\r\n"), "a b");  // both ends, inner blanks kept
    EXPECT_EQ(trim(" \n\t "), "");           // only blanks
    EXPECT_EQ(trim(""), "");                 // empty stays empty
    EXPECT_EQ(trim("\va\v"), "\va\v");       // vertical tab is not a blank here
}

TEST(Text, ShellQuote) {
    EXPECT_EQ(shell_quote(""), "''");                        // an empty word stays a word
    EXPECT_EQ(shell_quote("a b"), "'a b'");                  // blanks inside one word
    EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");            // a quote closes, escapes, reopens
    EXPECT_EQ(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");  // no expansion inside quotes
}

TEST(Text, Hex) {
    EXPECT_EQ(hex64(0), "0000000000000000");
    EXPECT_EQ(hex64(0xdeadbeefULL), "00000000deadbeef");
    EXPECT_EQ(hex64(~0ULL), "ffffffffffffffff");
    std::array<unsigned char, 3> bytes{0x00, 0x7f, 0xff};
    EXPECT_EQ(to_hex(bytes), "007fff");
}

TEST(FakeClock, MovesOnlyWhenAdvanced) {
    FakeClock clock(std::chrono::milliseconds(1000));
    auto w = clock.wall();
    auto m = clock.monotonic();
    EXPECT_EQ(clock.wall(), w);
    clock.advance(std::chrono::milliseconds(250));
    EXPECT_EQ(clock.wall() - w, std::chrono::milliseconds(250));
    EXPECT_EQ(clock.monotonic() - m, std::chrono::milliseconds(250));
}

}  // namespace
}  // namespace shipshape
