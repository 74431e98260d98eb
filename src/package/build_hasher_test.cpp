#include "package/build_hasher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "state/hash.hpp"

namespace shipshape::package {
namespace {

std::string md5_hex(const std::string& data) {
    state::Digest d(state::Digest::Kind::md5);
    d.update(data);
    return d.finish_hex();
}

// Feeds `contents` through the hasher in pieces of at most `piece` bytes, as the archive
// writer does, and checks every digest against a one-shot hash.
void check(const std::vector<std::string>& contents, size_t piece) {
    std::vector<FileDigest> digests(contents.size());
    {
        PayloadHasher hasher(digests);
        for (size_t i = 0; i < contents.size(); ++i) {
            size_t done = 0;
            while (done < contents[i].size()) {
                size_t left = contents[i].size() - done;
                std::span<char> room = hasher.buffer(left + 1);
                ASSERT_FALSE(room.empty());
                size_t n = std::min({left, piece, room.size()});
                std::memcpy(room.data(), contents[i].data() + done, n);
                hasher.commit(i, n);
                done += n;
            }
            hasher.finish_entry(i);
        }
        hasher.wait();
    }
    for (size_t i = 0; i < contents.size(); ++i) {
        SCOPED_TRACE("entry " + std::to_string(i) + ", pieces of " + std::to_string(piece));
        EXPECT_EQ(digests[i].sha256, state::sha256_hex(contents[i]));
        EXPECT_EQ(digests[i].md5, md5_hex(contents[i]));
    }
}

TEST(PayloadHasher, DigestsMatchAcrossBatchBoundaries) {
    std::vector<std::string> contents;
    contents.emplace_back("");  // an empty file first
    for (size_t i = 0; i < 300; ++i) {
        contents.emplace_back(std::string(97 * i + 1, static_cast<char>('a' + i % 26)));
    }
    contents.emplace_back("");
    // Larger than one batch (and than all the batches together): the writer has to wait for
    // the hasher to give batches back.
    std::string big(PayloadHasher::k_batch_bytes * 5 + 12345, '\0');
    for (size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<char>((i * 7919) >> 3);
    }
    contents.push_back(big);
    contents.emplace_back("tail\n");
    for (size_t piece : {size_t{1} << 30, size_t{65536}, size_t{4099}}) {
        check(contents, piece);
    }
}

TEST(PayloadHasher, AnAbandonedHasherStopsCleanly) {
    std::vector<FileDigest> digests(2);
    PayloadHasher hasher(digests);
    std::span<char> room = hasher.buffer(10);
    std::memcpy(room.data(), "abc", 3);
    hasher.commit(0, 3);
    // No finish_entry or wait(): an error path in the writer. The destructor must return.
}

}  // namespace
}  // namespace shipshape::package
