#include "server/fair_mutex.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace shipshape::server {
namespace {

TEST(FairMutex, WaitersGetTheLockInArrivalOrder) {
    FairMutex mutex;
    mutex.lock();
    std::mutex order_mutex;
    std::vector<int> order;
    std::vector<std::thread> threads;
    for (int i = 0; i < 5; ++i) {
        threads.emplace_back([&, i] {
            std::lock_guard held(mutex);
            std::lock_guard o(order_mutex);
            order.push_back(i);
        });
        // The next thread starts only once this one queues: arrival order is 0, 1, 2, ...
        while (mutex.waiting() != static_cast<size_t>(i + 1)) {
            std::this_thread::yield();
        }
    }
    mutex.unlock();
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
    // Free again: an uncontended lock does not wait.
    mutex.lock();
    EXPECT_EQ(mutex.waiting(), 0u);
    mutex.unlock();
}

}  // namespace
}  // namespace shipshape::server
