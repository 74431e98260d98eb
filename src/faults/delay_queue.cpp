// The libnetfilter_queue adapter.
#include "faults/delay_queue.hpp"

#include <arpa/inet.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <queue>
#include <random>
#include <system_error>
#include <thread>
#include <vector>

#include "os/errno_error.hpp"

namespace shipshape::faults {

namespace {

using Clock = std::chrono::steady_clock;

struct Held {
    Clock::time_point release;
    uint64_t seq;  // arrival order breaks ties so equal holds keep their order
    uint32_t id;
    bool operator>(const Held& o) const {
        return release != o.release ? release > o.release : seq > o.seq;
    }
};

class NfqDelayQueue final : public DelayQueue {
  public:
    ~NfqDelayQueue() override {
        uint64_t one = 1;
        if (m_stop_fd >= 0) {
            [[maybe_unused]] auto n = ::write(m_stop_fd, &one, sizeof one);
        }
        if (m_thread.joinable()) {
            m_thread.join();
        }
        if (m_queue) {
            nfq_destroy_queue(m_queue);
        }
        if (m_handle) {
            nfq_close(m_handle);
        }
        if (m_stop_fd >= 0) {
            ::close(m_stop_fd);
        }
    }

    static Result<std::unique_ptr<DelayQueue>> create(uint16_t queue_num) {
        auto q = std::make_unique<NfqDelayQueue>();
        q->m_handle = nfq_open();
        if (!q->m_handle) {
            return fail(Errc::unsupported,
                        "latency: cannot open nfnetlink_queue (kernel module nfnetlink_queue "
                        "missing, or no CAP_NET_ADMIN)");
        }
        q->m_queue = nfq_create_queue(q->m_handle, queue_num, &NfqDelayQueue::on_packet, q.get());
        if (!q->m_queue) {
            return fail(Errc::unsupported, "latency: cannot bind NFQUEUE " +
                                               std::to_string(queue_num) + ": " +
                                               std::strerror(errno));
        }
        // Only the verdict matters; copying no payload keeps each message small.
        if (nfq_set_mode(q->m_queue, NFQNL_COPY_META, 0) < 0) {
            return fail(Errc::unsupported, "latency: cannot set NFQUEUE copy mode");
        }
        nfq_set_queue_maxlen(q->m_queue, 65536);
        int fd = nfq_fd(q->m_handle);
        int buf = 8 << 20;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
        q->m_stop_fd = ::eventfd(0, EFD_CLOEXEC);
        if (q->m_stop_fd < 0) {
            return fail(os::errno_error("latency: eventfd", errno));
        }
        try {
            q->m_thread = std::thread([raw = q.get()] { raw->loop(); });
        } catch (const std::system_error& e) {
            return fail(Errc::unsupported,
                        std::string("latency: cannot start the queue's thread (a latency fault "
                                    "added after start without root): ") +
                            e.what());
        }
        return std::unique_ptr<DelayQueue>(std::move(q));
    }

    void set_delay(Millis delay, Millis jitter) override {
        m_delay_us.store(delay.count() * 1000);
        m_jitter_us.store(jitter.count() * 1000);
    }

    DelayCounters counters() const override {
        DelayCounters c;
        c.packets = m_packets.load();
        c.passed = m_passed.load();
        c.total_delay_us = m_total_delay_us.load();
        return c;
    }

  private:
    static int on_packet(nfq_q_handle* qh, nfgenmsg*, nfq_data* data, void* self_ptr) {
        auto* self = static_cast<NfqDelayQueue*>(self_ptr);
        auto* header = nfq_get_msg_packet_hdr(data);
        if (!header) {
            return 0;
        }
        uint32_t id = ntohl(header->packet_id);
        int64_t delay = self->m_delay_us.load();
        int64_t jitter = self->m_jitter_us.load();
        if (delay <= 0) {
            self->m_passed.fetch_add(1);
            return nfq_set_verdict(qh, id, NF_ACCEPT, 0, nullptr);
        }
        if (jitter > 0) {
            std::uniform_int_distribution<int64_t> dist(-jitter, jitter);
            delay += dist(self->m_rng);
        }
        self->m_total_delay_us.fetch_add(static_cast<uint64_t>(std::max<int64_t>(delay, 0)));
        self->m_held.push(Held{Clock::now() + std::chrono::microseconds(delay), self->m_seq++, id});
        return 0;
    }

    void release_due(bool all) {
        auto now = Clock::now();
        while (!m_held.empty() && (all || m_held.top().release <= now)) {
            nfq_set_verdict(m_queue, m_held.top().id, NF_ACCEPT, 0, nullptr);
            m_held.pop();
            m_packets.fetch_add(1);
        }
    }

    void loop() {
        // The default 50 µs timer slack would add itself to every hold.
        ::prctl(PR_SET_TIMERSLACK, 1UL);
        int fd = nfq_fd(m_handle);
        std::vector<char> buf(1 << 16);
        for (;;) {
            // ppoll, not poll: a millisecond timeout would hold every packet up to 1 ms long.
            timespec timeout{};
            timespec* timeout_ptr = nullptr;
            if (!m_held.empty()) {
                auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    m_held.top().release - Clock::now());
                int64_t ns = std::max<int64_t>(wait.count(), 0);
                timeout.tv_sec = ns / 1000000000;
                timeout.tv_nsec = ns % 1000000000;
                timeout_ptr = &timeout;
            }
            pollfd fds[2] = {{fd, POLLIN, 0}, {m_stop_fd, POLLIN, 0}};
            int n = ::ppoll(fds, 2, timeout_ptr, nullptr);
            if (n < 0 && errno != EINTR) {
                break;
            }
            if (fds[1].revents & POLLIN) {
                break;
            }
            if (fds[0].revents & POLLIN) {
                // Drain what is there without blocking so a burst is stamped on arrival.
                for (;;) {
                    ssize_t got = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
                    if (got <= 0) {
                        break;
                    }
                    nfq_handle_packet(m_handle, buf.data(), static_cast<int>(got));
                }
            }
            release_due(false);
        }
        release_due(true);
    }

    nfq_handle* m_handle = nullptr;
    nfq_q_handle* m_queue = nullptr;
    int m_stop_fd = -1;
    std::thread m_thread;
    std::priority_queue<Held, std::vector<Held>, std::greater<>> m_held;
    uint64_t m_seq = 0;
    std::mt19937_64 m_rng{std::random_device{}()};
    std::atomic<int64_t> m_delay_us{0};
    std::atomic<int64_t> m_jitter_us{0};
    std::atomic<uint64_t> m_packets{0};
    std::atomic<uint64_t> m_passed{0};
    std::atomic<uint64_t> m_total_delay_us{0};
};

}  // namespace

Result<std::unique_ptr<DelayQueue>> DelayQueue::start(uint16_t queue_num) {
    return NfqDelayQueue::create(queue_num);
}

}  // namespace shipshape::faults
