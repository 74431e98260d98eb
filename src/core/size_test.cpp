#include "core/size.hpp"

#include <gtest/gtest.h>

namespace shipshape {
namespace {

TEST(ParseSize, AcceptsUnits) {
    struct Row {
        const char* text;
        uint64_t bytes;
    };
    const Row rows[] = {
        {"4096", 4096},          // bare bytes
        {"512M", 536870912},     // short binary unit, as in `--memory 512M`
        {"2 GiB", 2147483648},   // the requirements.toml example
        {"10 GB", 10000000000},  // decimal unit
        {"1.5 KiB", 1536},       // decimals
        {"0B", 0},               // zero
    };
    for (const auto& row : rows) {
        auto r = parse_size(row.text);
        ASSERT_TRUE(r) << row.text << ": " << r.error().message();
        EXPECT_EQ(*r, row.bytes) << row.text;
    }
}

TEST(ParseSize, RejectsWithReason) {
    EXPECT_EQ(parse_size("lots").error().message(),
              "invalid size 'lots' (a number must come first): expected a number and a unit, e.g. "
              "512M, 2 GiB or 10 GB");
    EXPECT_EQ(parse_size("2 gigs").error().message(),
              "invalid size '2 gigs' (unknown unit 'gigs'): expected a number and a unit, e.g. "
              "512M, 2 GiB or 10 GB");
}

TEST(FormatSize, Readable) {
    EXPECT_EQ(format_size(512), "512 B");
    EXPECT_EQ(format_size(1536), "1.5 KiB");
    EXPECT_EQ(format_size(2147483648), "2.0 GiB");
}

}  // namespace
}  // namespace shipshape
