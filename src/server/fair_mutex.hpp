// FairMutex: a mutex handed to its waiters first come, first served. The server's requests take
// turns at the one store connection (api.hpp); with std::mutex a waiter may lose to newcomers
// again and again, and under 50 concurrent clients bench/server.sh measured p99 at 15-30 times
// p50. Here unlock() hands the lock straight to the longest waiter, so a request waits for at
// most the requests queued before it.
//
// Meets BasicLockable (std::lock_guard, std::unique_lock). Not recursive; unlock() only by the
// holder.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace shipshape::server {

class FairMutex {
  public:
    void lock() {
        std::unique_lock guard(m_state);
        if (!m_held && m_waiters.empty()) {
            m_held = true;
            return;
        }
        Waiter me;
        m_waiters.push_back(&me);
        me.wake.wait(guard, [&] { return me.granted; });
    }

    void unlock() {
        std::lock_guard guard(m_state);
        if (m_waiters.empty()) {
            m_held = false;
            return;
        }
        Waiter* next = m_waiters.front();
        m_waiters.pop_front();
        next->granted = true;  // the lock passes to it without being released
        next->wake.notify_one();
    }

    // How many threads wait (for tests).
    size_t waiting() {
        std::lock_guard guard(m_state);
        return m_waiters.size();
    }

  private:
    struct Waiter {
        std::condition_variable wake;
        bool granted = false;
    };
    std::mutex m_state;
    bool m_held = false;
    std::deque<Waiter*> m_waiters;
};

}  // namespace shipshape::server
