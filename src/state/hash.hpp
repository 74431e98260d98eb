// Content hashes for change detection and integrity. XXH3-128 (xxHash, fast, not
// cryptographic) decides whether content changed; SHA-256 (OpenSSL) is what reports show and
// stores keep. HashCache remembers the XXH3 of files by (device, inode, size, mtime, ctime), so
// an unchanged file is never read twice: the kernel updates ctime on every content or metadata
// change and user space cannot set it back.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace shipshape::state {

struct Hash128 {
    uint64_t lo = 0;
    uint64_t hi = 0;
    bool operator==(const Hash128&) const = default;
};

Hash128 xxh3(std::string_view data);
// Hashes a file's content, reading it in chunks. Errc::io / not_found / permission_denied.
[[nodiscard]] Result<Hash128> xxh3_file(int dirfd, const char* name);
[[nodiscard]] Result<Hash128> xxh3_file(const std::string& path);

// Lower-case hex SHA-256.
std::string sha256_hex(std::string_view data);
[[nodiscard]] Result<std::string> sha256_file(const std::string& path);

// An incremental digest (nettle) for content that arrives in pieces: archive members,
// files read in chunks. finish_hex() returns the lower-case hex digest and starts over, so one
// object hashes many contents without allocating. Not thread-safe: one per thread.
class Digest {
  public:
    enum class Kind { sha256, md5 };  // md5: only to compare with dpkg's md5sums
    explicit Digest(Kind kind = Kind::sha256);
    ~Digest();
    Digest(const Digest&) = delete;
    Digest& operator=(const Digest&) = delete;

    void update(const void* data, size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    std::string finish_hex();

  private:
    struct Context;  // nettle's contexts, kept out of this header
    std::unique_ptr<Context> m_ctx;
    Kind m_kind;
};

struct FileStamp {
    uint64_t dev = 0;
    uint64_t ino = 0;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const struct stat& st);

// A persistent map from a file's identity (device, inode) to the stamp it had when hashed and
// its XXH3. Keyed by inode, not path, so a lookup builds no strings: a replaced or rewritten file
// has a new inode or a new ctime, so a stale record can never match. Records live in one sorted
// array, mapped from the cache file (nothing is copied or parsed at load); lookups are lock-free
// binary searches. The file is rewritten only when something new was hashed; records of other
// state files in the repo are kept, up to k_max_records, past which unused ones are dropped.
class HashCache {
  public:
    HashCache() = default;
    // Maps `path` (a missing or unreadable cache is an empty cache, never an error).
    explicit HashCache(std::string path);
    ~HashCache();
    HashCache(const HashCache&) = delete;
    HashCache& operator=(const HashCache&) = delete;

    static constexpr size_t k_max_records = 2'000'000;

    std::optional<Hash128> lookup(const FileStamp& stamp);
    void remember(const FileStamp& stamp, Hash128 hash);

    // The hash of the file at `dirfd`/`name` whose stat is `st`: from the cache when its stamp
    // matches, else read and remembered.
    [[nodiscard]] Result<Hash128> hash(int dirfd, const char* name, const struct stat& st);

    // Writes the cache (atomically, by rename) when anything changed. No-op without a path.
    [[nodiscard]] Status save();

    size_t hits() const { return m_hits; }
    size_t misses() const { return m_misses; }

    struct Record {
        uint64_t dev = 0;
        uint64_t ino = 0;
        uint64_t size = 0;
        int64_t mtime_ns = 0;
        int64_t ctime_ns = 0;
        uint64_t lo = 0;
        uint64_t hi = 0;
    };

  private:
    struct KeyHash {
        size_t operator()(const std::pair<uint64_t, uint64_t>& k) const {
            return std::hash<uint64_t>()(k.first * 0x9e3779b97f4a7c15ULL ^ k.second);
        }
    };
    std::string m_path;
    const Record* m_records = nullptr;  // sorted by (dev, ino), mapped from the file
    size_t m_count = 0;
    void* m_map = nullptr;
    size_t m_map_size = 0;
    std::unique_ptr<std::atomic<bool>[]> m_used;
    std::mutex m_mutex;  // guards m_added
    std::unordered_map<std::pair<uint64_t, uint64_t>, Record, KeyHash> m_added;
    std::atomic<size_t> m_hits{0};
    std::atomic<size_t> m_misses{0};
};

}  // namespace shipshape::state
