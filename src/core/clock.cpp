#include "core/clock.hpp"

namespace shipshape {

namespace {
class SystemClock final : public Clock {
  public:
    std::chrono::system_clock::time_point wall() const override {
        return std::chrono::system_clock::now();
    }
    std::chrono::steady_clock::time_point monotonic() const override {
        return std::chrono::steady_clock::now();
    }
};
}  // namespace

const Clock& system_clock() {
    static const SystemClock clock;
    return clock;
}

}  // namespace shipshape
