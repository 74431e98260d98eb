// Test-only: one way for a GoogleTest test to give up on a machine that lacks something it
// needs (root, a tool, a kernel feature). Without SHIPSHAPE_REQUIRE_ALL the test is skipped
// with the reason; with SHIPSHAPE_REQUIRE_ALL=1 (as in CI) the same skip is a failure, so a
// green CI run means every test really ran. Include only from *_test.cpp files.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

namespace shipshape::testing {

inline bool require_all() {
    const char* all = std::getenv("SHIPSHAPE_REQUIRE_ALL");
    return all != nullptr && std::string_view(all) == "1";
}

}  // namespace shipshape::testing

// Returns from the calling test: skipped with the reason, or failed under
// SHIPSHAPE_REQUIRE_ALL=1. `reason` is anything that streams into a gtest message.
#define SHIPSHAPE_SKIP_OR_FAIL(reason)                                          \
    do {                                                                        \
        if (::shipshape::testing::require_all()) {                              \
            GTEST_FAIL() << reason                                              \
                         << " (SHIPSHAPE_REQUIRE_ALL=1 turns this skip into a " \
                            "failure)";                                         \
        }                                                                       \
        GTEST_SKIP() << reason;                                                 \
    } while (false)
