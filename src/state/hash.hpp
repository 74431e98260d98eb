// Content hashes for change detection and integrity. XXH3-128 (xxHash, fast, not
// cryptographic) decides whether content changed; SHA-256 (OpenSSL) is what reports show and
// stores keep. HashCache remembers the XXH3 of files by (device, inode, size, mtime, ctime), so
// an unchanged file is never read twice: the kernel updates ctime on every content or metadata
// change and user space cannot set it back.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

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

struct FileStamp {
    uint64_t dev = 0;
    uint64_t ino = 0;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const struct stat& st);

// A persistent map from a file's real path to its stamp and XXH3. Lookups and inserts are
// thread-safe. Stale entries (the stamp differs) are replaced; entries for paths not looked up
// during a session are dropped when saved, so the cache never outgrows what is managed.
class HashCache {
  public:
    HashCache() = default;
    // Loads `path` (a missing or unreadable cache is an empty cache, never an error).
    explicit HashCache(std::string path);

    std::optional<Hash128> lookup(const std::string& real_path, const FileStamp& stamp);
    void remember(const std::string& real_path, const FileStamp& stamp, Hash128 hash);

    // The hash of the file at `dirfd`/`name` (real path `real_path`, stat `st`), from the
    // cache when its stamp matches, else read and remembered.
    [[nodiscard]] Result<Hash128> hash(int dirfd, const char* name, const std::string& real_path,
                                       const struct stat& st);

    // Writes the cache atomically when it changed (or when entries were dropped). No-op for a
    // cache made without a path.
    [[nodiscard]] Status save();

    size_t hits() const { return m_hits; }
    size_t misses() const { return m_misses; }

  private:
    struct Entry {
        FileStamp stamp;
        Hash128 hash;
        bool used = false;
    };
    std::string m_path;
    std::mutex m_mutex;
    std::unordered_map<std::string, Entry> m_entries;
    size_t m_hits = 0;
    size_t m_misses = 0;
    bool m_dirty = false;
};

}  // namespace shipshape::state
