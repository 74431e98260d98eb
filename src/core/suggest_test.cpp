#include "core/suggest.hpp"

#include <gtest/gtest.h>

namespace shipshape {
namespace {

TEST(Suggest, ClosestWithinTwoEdits) {
    const std::vector<std::string_view> keys = {"retries", "retry_delay", "timeout", "undo"};
    struct Row {
        std::string_view name;
        std::string expected;
    } rows[] = {
        {"retires", "retries"},          // a transposition costs two edits
        {"timout", "timeout"},           // one deletion
        {"undoo", "undo"},               // one insertion
        {"colour", ""},                  // nothing close: no suggestion
        {"retry-delay", "retry_delay"},  // a substituted separator
    };
    for (const auto& r : rows) {
        EXPECT_EQ(closest_match(r.name, keys), r.expected) << r.name;
    }
    EXPECT_EQ(did_you_mean("retires", keys), " (did you mean 'retries'?)");
    EXPECT_EQ(did_you_mean("colour", keys), "");
}

TEST(Suggest, EditDistance) {
    EXPECT_EQ(edit_distance("", "abc"), 3u);
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(edit_distance("same", "same"), 0u);
}

}  // namespace
}  // namespace shipshape
