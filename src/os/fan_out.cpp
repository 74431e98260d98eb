#include "os/fan_out.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace shipshape::os {

int default_forks(size_t hosts) {
    return static_cast<int>(std::clamp<size_t>(hosts, 1, 64));
}

void fan_out(size_t n, int forks, const std::function<void(size_t)>& fn) {
    if (n == 0) {
        return;
    }
    size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(forks, 1)));
    if (threads == 1) {
        for (size_t i = 0; i < n; ++i) {
            fn(i);
        }
        return;
    }
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (size_t i = next++; i < n; i = next++) {
                fn(i);
            }
        });
    }
    for (auto& t : pool) {
        t.join();
    }
}

}  // namespace shipshape::os
