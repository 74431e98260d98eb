// PayloadHasher (package/build_hasher.hpp): batches of file content handed from the archive
// writer to a hashing thread and back.
#include "package/build_hasher.hpp"

#include <algorithm>

#include "state/hash.hpp"

namespace shipshape::package {

namespace {

// Batches in flight: one being filled, one being hashed, and slack for the hasher to catch up.
constexpr size_t k_batches = 4;

}  // namespace

PayloadHasher::PayloadHasher(std::vector<FileDigest>& digests) : m_digests(digests) {
    for (size_t i = 0; i < k_batches; ++i) {
        auto b = std::make_unique<Batch>();
        b->data = std::make_unique_for_overwrite<char[]>(k_batch_bytes);
        m_free.push_back(b.get());
        m_batches.push_back(std::move(b));
    }
    m_current = m_free.front();
    m_free.pop_front();
    m_thread = std::thread([this] { loop(); });
}

PayloadHasher::~PayloadHasher() {
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
    }
    m_changed.notify_all();
    if (m_thread.joinable()) {
        m_thread.join();
    }
}

std::span<char> PayloadHasher::buffer(size_t wanted) {
    size_t left = k_batch_bytes - m_current->used;
    if (left < std::min(wanted, k_batch_bytes / 4) || left == 0) {
        hand_over();
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [this] { return !m_free.empty(); });
        m_current = m_free.front();
        m_free.pop_front();
        left = k_batch_bytes;
    }
    return {m_current->data.get() + m_current->used, left};
}

void PayloadHasher::commit(size_t index, size_t n) {
    if (n == 0) {
        return;
    }
    m_current->runs.push_back(Run{index, m_current->used, n, false});
    m_current->used += n;
}

void PayloadHasher::finish_entry(size_t index) {
    m_current->runs.push_back(Run{index, m_current->used, 0, true});
}

void PayloadHasher::hand_over() {
    {
        std::lock_guard lock(m_mutex);
        m_full.push_back(m_current);
    }
    m_current = nullptr;
    m_changed.notify_all();
}

void PayloadHasher::wait() {
    hand_over();
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
    }
    m_changed.notify_all();
    m_thread.join();
}

void PayloadHasher::loop() {
    state::Digest sha(state::Digest::Kind::sha256);
    state::Digest md5(state::Digest::Kind::md5);
    while (true) {
        Batch* b = nullptr;
        {
            std::unique_lock lock(m_mutex);
            m_changed.wait(lock, [this] { return !m_full.empty() || m_closed; });
            if (m_full.empty()) {
                return;
            }
            b = m_full.front();
            m_full.pop_front();
        }
        for (const Run& r : b->runs) {
            sha.update(b->data.get() + r.offset, r.length);
            md5.update(b->data.get() + r.offset, r.length);
            if (r.last) {
                // finish_hex() also starts the digest over for the next entry.
                m_digests[r.index].sha256 = sha.finish_hex();
                m_digests[r.index].md5 = md5.finish_hex();
            }
        }
        b->runs.clear();
        b->used = 0;
        {
            std::lock_guard lock(m_mutex);
            m_free.push_back(b);
        }
        m_changed.notify_all();
    }
}

}  // namespace shipshape::package
