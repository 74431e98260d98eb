// DelayQueue: holds every packet that an NFQUEUE rule hands to user space for a set time (plus
// uniform jitter) before letting it go, which adds latency to any protocol on kernels without
// netem. Packets leave in the order their hold times end, so jitter can reorder, as on a real
// network with jitter.
//
// Threading: start() runs one thread that owns the netlink socket and the held packets;
// set_delay() and counters() may be called from any thread. The queue rule itself is added by
// the caller (iptables' NFQUEUE target) in the same network namespace; until the rule exists
// nothing arrives here. Packets still held at destruction are released, not dropped.
#pragma once

#include <cstdint>
#include <memory>

#include "core/duration.hpp"
#include "core/error.hpp"

namespace shipshape::faults {

struct DelayCounters {
    uint64_t packets = 0;         // packets held (delay > 0) and released
    uint64_t passed = 0;          // packets let through at once while the delay was 0
    uint64_t total_delay_us = 0;  // sum of the holds actually applied
};

class DelayQueue {
  public:
    // Binds queue `queue_num` in the calling thread's network namespace and starts the thread.
    // Errc::unsupported when nfnetlink_queue is unavailable.
    [[nodiscard]] static Result<std::unique_ptr<DelayQueue>> start(uint16_t queue_num);
    virtual ~DelayQueue() = default;

    virtual void set_delay(Millis delay, Millis jitter) = 0;
    virtual DelayCounters counters() const = 0;
};

}  // namespace shipshape::faults
