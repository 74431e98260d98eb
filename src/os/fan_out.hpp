// Fan-out: running one job per item on a bounded number of threads, the shape of every
// multi-host operation. The calling thread waits; fn must be safe to call from several threads
// at once (each index is given to exactly one call).
#pragma once

#include <cstddef>
#include <functional>

namespace shipshape::os {

// Runs fn(i) for every i in [0, n) on at most `forks` threads (at least one); returns when all
// are done. With one thread the calls happen in order on the calling thread.
void fan_out(size_t n, int forks, const std::function<void(size_t)>& fn);

// The default parallelism for `hosts` hosts: all of them, up to 64.
int default_forks(size_t hosts);

}  // namespace shipshape::os
