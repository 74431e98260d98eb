// The clock seam. Code that stamps records (wall time) or measures durations and deadlines
// (monotonic time) asks a Clock instead of reading std::chrono clocks directly, so tests can
// drive time with a FakeClock. system_clock() is thread-safe and lives for the whole program;
// a FakeClock is for one test thread, or for threads the test synchronises itself.
#pragma once

#include <chrono>

namespace shipshape {

class Clock {
  public:
    virtual ~Clock() = default;
    // Wall-clock time, for records people read (run start, journal stamps, snapshots).
    virtual std::chrono::system_clock::time_point wall() const = 0;
    // Monotonic time, for durations, timeouts and deadlines.
    virtual std::chrono::steady_clock::time_point monotonic() const = 0;
};

// The real clock.
const Clock& system_clock();

// A clock that moves only when told to. Both times start at the epoch of their clocks plus
// `start`.
class FakeClock final : public Clock {
  public:
    explicit FakeClock(std::chrono::milliseconds start = std::chrono::milliseconds(0))
        : m_offset(start) {}
    std::chrono::system_clock::time_point wall() const override {
        return std::chrono::system_clock::time_point(m_offset);
    }
    std::chrono::steady_clock::time_point monotonic() const override {
        return std::chrono::steady_clock::time_point(m_offset);
    }
    void advance(std::chrono::milliseconds by) { m_offset += by; }

  private:
    std::chrono::milliseconds m_offset;
};

}  // namespace shipshape
