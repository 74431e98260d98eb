#include "os/fan_out.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <mutex>
#include <set>

namespace shipshape::os {
namespace {

TEST(FanOut, RunsEveryIndexOnceWithBoundedThreads) {
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    std::mutex lock;
    std::multiset<size_t> seen;
    fan_out(40, 3, [&](size_t i) {
        int now = ++running;
        int prev = most.load();
        while (now > prev && !most.compare_exchange_weak(prev, now)) {
        }
        --running;
        std::lock_guard g(lock);
        seen.insert(i);
    });
    EXPECT_EQ(seen.size(), 40u);
    for (size_t i = 0; i < 40; ++i) {
        EXPECT_EQ(seen.count(i), 1u) << i;
    }
    EXPECT_LE(most.load(), 3);
}

TEST(FanOut, RunsUpToForksJobsAtOnce) {
    // Four jobs meet at a barrier: this returns only if four threads run them together.
    std::barrier meet(4);
    fan_out(4, 4, [&](size_t) { meet.arrive_and_wait(); });
    SUCCEED();
}

TEST(FanOut, DefaultForksCoversTheFleetUpTo64) {
    EXPECT_EQ(default_forks(0), 1);
    EXPECT_EQ(default_forks(10), 10);
    EXPECT_EQ(default_forks(500), 64);
}

}  // namespace
}  // namespace shipshape::os
