// Milliseconds since the Unix epoch of a clock's wall time: how records are stamped (runs,
// tokens, reports, facts). Kept apart from clock.hpp so that adding to it does not rebuild
// everything that includes the clock.
#pragma once

#include <chrono>
#include <cstdint>

#include "core/clock.hpp"

namespace shipshape {

inline int64_t wall_ms(const Clock& clock = system_clock()) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
        .count();
}

}  // namespace shipshape
