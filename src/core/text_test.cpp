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

TEST(Text, FindControlCharacter) {
    struct Row {
        std::string text;
        LineBreaks breaks;
        std::string expected;
    };
    const Row rows[] = {
        {"alice", LineBreaks::rejected, ""},          // a plain name passes
        {"Zoë Ünal 山田", LineBreaks::rejected, ""},  // letters beyond ASCII pass
        {"", LineBreaks::rejected, ""},               // empty is not this check's business
        {"a\\nb", LineBreaks::rejected, ""},          // a backslash is just a character
        {"ciso\nchecked", LineBreaks::rejected,       // a newline forges a second row
         "character 5 is a control character (U+000A)"},
        {"x\ny\tz", LineBreaks::allowed, ""},  // notes may span lines
        {"ok\x1b[2K", LineBreaks::allowed,     // ESC drives the terminal
         "character 3 is a control character (U+001B)"},
        {"é\x1b", LineBreaks::rejected,  // counted in characters, not bytes
         "character 2 is a control character (U+001B)"},
        {"a\rb", LineBreaks::allowed,  // CR rewrites the line even in notes
         "character 2 is a control character (U+000D)"},
        {std::string("a\0b", 3), LineBreaks::rejected,  // NUL
         "character 2 is a control character (U+0000)"},
        {"a\x7f", LineBreaks::rejected,  // DEL
         "character 2 is a control character (U+007F)"},
        {"a\xc2\x9b", LineBreaks::rejected,  // C1 CSI, as UTF-8
         "character 2 is a control character (U+009B)"},
        {"a\xe2\x80\xae", LineBreaks::rejected,  // right-to-left override
         "character 2 is a control character (U+202E)"},
        {"a\xe2\x80\xa8", LineBreaks::allowed,  // line separator
         "character 2 is a control character (U+2028)"},
        {"ab\xff", LineBreaks::rejected, "byte 3 is not valid UTF-8 (0xff)"},  // stray byte
        {"a\xc3", LineBreaks::rejected, "byte 2 is not valid UTF-8 (0xc3)"},   // cut sequence
        {"a\xc0\xaf", LineBreaks::rejected,                                    // overlong '/'
         "byte 2 is not valid UTF-8 (0xc0)"},
        {"a\xed\xa0\x80", LineBreaks::rejected,  // a surrogate
         "byte 2 is not valid UTF-8 (0xed)"},
    };
    for (const auto& r : rows) {
        EXPECT_EQ(find_control_character(r.text, r.breaks), r.expected) << r.text;
    }
}

TEST(Text, EscapeControl) {
    EXPECT_EQ(escape_control("plain text, ünïcode"), "plain text, ünïcode");  // unchanged
    EXPECT_EQ(escape_control("a\nb\tc\rd"), "a\\nb\\tc\\rd");           // the usual short escapes
    EXPECT_EQ(escape_control("\x1b[2Kforged"), "\\x1b[2Kforged");       // ESC cannot clear the line
    EXPECT_EQ(escape_control(std::string("\0\x7f", 2)), "\\x00\\x7f");  // NUL and DEL
    EXPECT_EQ(escape_control("\xc2\x9b"), "\\u{009B}");                 // C1 CSI
    EXPECT_EQ(escape_control("\xe2\x80\xae"), "\\u{202E}");             // bidi override
    EXPECT_EQ(escape_control("a\xff"
                             "b\xc3"),
              "a\\xffb\\xc3");                    // invalid UTF-8 bytes
    EXPECT_EQ(escape_control("a\\nb"), "a\\nb");  // an existing backslash stays one
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
