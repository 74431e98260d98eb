// Hashing the payload on a thread of its own while it is copied into data.tar (internal to
// package/build): the writer reads each file's bytes straight into the hasher's batch buffers,
// writes them into the archive, and the hasher thread computes their sha256 and md5 from the
// same buffers, so every file is still read once but the digests no longer hold up the copy.
//
// Threading: one writer thread calls buffer/commit/finish_entry/wait; the hasher thread only
// writes the sha256 and md5 of the `digests` elements it was handed, and wait() returns once
// they are all written. Entries are handed over in order, each as consecutive byte runs ending
// with finish_entry. A few fixed batches (k_batch_bytes each) are recycled: the writer waits
// for a free one when the hasher falls behind, so memory stays bounded whatever the payload.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "package/deb_write.hpp"

namespace shipshape::package {

class PayloadHasher {
  public:
    static constexpr size_t k_batch_bytes = size_t{1} << 20;

    // Starts the hasher thread; digests[i] receives the sha256 and md5 of entry i.
    explicit PayloadHasher(std::vector<FileDigest>& digests);
    // Stops the thread (after wait(), or abandoning what was not hashed on an error path).
    ~PayloadHasher();
    PayloadHasher(const PayloadHasher&) = delete;
    PayloadHasher& operator=(const PayloadHasher&) = delete;

    // Room for the next bytes: the rest of the current batch, or a fresh batch when fewer than
    // min(wanted, k_batch_bytes / 4) bytes are left. Never empty.
    std::span<char> buffer(size_t wanted);
    // The first `n` bytes of the last buffer() are the next content of entry `index`. The
    // caller must not touch them afterwards.
    void commit(size_t index, size_t n);
    // Entry `index` has no more content (an empty file has only this call).
    void finish_entry(size_t index);
    // Hands over the last batch and returns once every finished entry's digests are written.
    void wait();

  private:
    struct Run {
        size_t index = 0;
        size_t offset = 0;
        size_t length = 0;
        bool last = false;
    };
    struct Batch {
        std::unique_ptr<char[]> data;
        size_t used = 0;
        std::vector<Run> runs;
    };

    void hand_over();
    void loop();

    std::vector<FileDigest>& m_digests;
    std::vector<std::unique_ptr<Batch>> m_batches;
    Batch* m_current = nullptr;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<Batch*> m_free;
    std::deque<Batch*> m_full;
    bool m_closed = false;
    std::thread m_thread;
};

}  // namespace shipshape::package
