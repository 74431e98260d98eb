#include "state/hash.hpp"

#include <fcntl.h>
#include <nettle/md5.h>
#include <nettle/sha2.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/text.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"

namespace shipshape::state {

Hash128 xxh3(std::string_view data) {
    XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
    return Hash128{h.low64, h.high64};
}

namespace {

struct XxhStateDeleter {
    void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

Result<Hash128> hash_fd(int fd, const std::string& what) {
    std::unique_ptr<XXH3_state_t, XxhStateDeleter> state(XXH3_createState());
    XXH3_128bits_reset(state.get());
    std::array<char, 1 << 16> buf{};
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail(os::errno_error("reading '" + what + "'", errno));
        }
        if (n == 0) {
            break;
        }
        XXH3_128bits_update(state.get(), buf.data(), static_cast<size_t>(n));
    }
    XXH128_hash_t h = XXH3_128bits_digest(state.get());
    return Hash128{h.low64, h.high64};
}

}  // namespace

Result<Hash128> xxh3_file(int dirfd, const char* name) {
    int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return fail(os::errno_error(std::string("opening '") + name + "'", errno));
    }
    auto h = hash_fd(fd, name);
    ::close(fd);
    return h;
}

Result<Hash128> xxh3_file(const std::string& path) {
    return xxh3_file(AT_FDCWD, path.c_str());
}

// SHA-256 and MD5 come from nettle, not OpenSSL: the static agent (shipshape-agent) links
// them, and a static libcrypto adds 4.3 MB for these two functions (OpenSSL 3's providers).
struct Digest::Context {
    sha256_ctx sha{};
    md5_ctx md5{};
};

std::string sha256_hex(std::string_view data) {
    sha256_ctx ctx{};
    sha256_init(&ctx);
    sha256_update(&ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
    std::array<unsigned char, SHA256_DIGEST_SIZE> md{};
    sha256_digest(&ctx, md.size(), md.data());
    return to_hex(std::span<const unsigned char>(md.data(), md.size()));
}

Result<std::string> sha256_file(const std::string& path) {
    auto data = os::read_whole_file(path);
    if (!data) {
        return fail(data.error());
    }
    return sha256_hex(*data);
}

Digest::Digest(Kind kind) : m_ctx(std::make_unique<Context>()), m_kind(kind) {
    sha256_init(&m_ctx->sha);
    md5_init(&m_ctx->md5);
}

Digest::~Digest() = default;

void Digest::update(const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    if (m_kind == Kind::md5) {
        md5_update(&m_ctx->md5, size, bytes);
    } else {
        sha256_update(&m_ctx->sha, size, bytes);
    }
}

std::string Digest::finish_hex() {
    // nettle's *_digest also resets the context for the next content.
    if (m_kind == Kind::md5) {
        std::array<unsigned char, MD5_DIGEST_SIZE> md{};
        md5_digest(&m_ctx->md5, md.size(), md.data());
        return to_hex(std::span<const unsigned char>(md.data(), md.size()));
    }
    std::array<unsigned char, SHA256_DIGEST_SIZE> md{};
    sha256_digest(&m_ctx->sha, md.size(), md.data());
    return to_hex(std::span<const unsigned char>(md.data(), md.size()));
}

FileStamp stamp_of(const struct stat& st) {
    return FileStamp{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                     static_cast<uint64_t>(st.st_size),
                     int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
                     int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec};
}

// Cache file: "SSHC0002", u64 count, then `count` Records sorted by (dev, ino). Native byte
// order and layout: the cache never leaves the machine (a foreign file fails the size check).
namespace {

constexpr char k_magic[8] = {'S', 'S', 'H', 'C', '0', '0', '0', '2'};

bool key_less(const HashCache::Record& a, const HashCache::Record& b) {
    return a.dev != b.dev ? a.dev < b.dev : a.ino < b.ino;
}

bool stamp_matches(const HashCache::Record& r, const FileStamp& s) {
    return r.size == s.size && r.mtime_ns == s.mtime_ns && r.ctime_ns == s.ctime_ns;
}

}  // namespace

HashCache::HashCache(std::string path) : m_path(std::move(path)) {
    int fd = ::open(m_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size >= 16) {
        m_map_size = static_cast<size_t>(st.st_size);
        m_map = ::mmap(nullptr, m_map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m_map == MAP_FAILED) {
            m_map = nullptr;
        }
    }
    ::close(fd);
    if (!m_map) {
        return;
    }
    const char* base = static_cast<const char*>(m_map);
    uint64_t count = 0;
    std::memcpy(&count, base + 8, sizeof count);
    bool ok = std::memcmp(base, k_magic, sizeof k_magic) == 0 &&
              m_map_size == 16 + count * sizeof(Record);
    if (ok) {
        // The header is 16 bytes, so records stay 8-byte aligned in the page-aligned mapping.
        m_records = reinterpret_cast<const Record*>(base + 16);
        m_count = count;
        ok = std::is_sorted(m_records, m_records + m_count, key_less);
    }
    if (!ok) {
        m_records = nullptr;
        m_count = 0;
    }
    m_used = std::make_unique<std::atomic<bool>[]>(m_count);
}

HashCache::~HashCache() {
    if (m_map) {
        ::munmap(m_map, m_map_size);
    }
}

std::optional<Hash128> HashCache::lookup(const FileStamp& stamp) {
    Record key;
    key.dev = stamp.dev;
    key.ino = stamp.ino;
    const Record* end = m_records + m_count;
    const Record* it = m_count ? std::lower_bound(m_records, end, key, key_less) : end;
    if (it != end && it->dev == stamp.dev && it->ino == stamp.ino && stamp_matches(*it, stamp)) {
        m_used[static_cast<size_t>(it - m_records)].store(true, std::memory_order_relaxed);
        ++m_hits;
        return Hash128{it->lo, it->hi};
    }
    {
        std::lock_guard lock(m_mutex);
        auto a = m_added.find({stamp.dev, stamp.ino});
        if (a != m_added.end() && stamp_matches(a->second, stamp)) {
            ++m_hits;
            return Hash128{a->second.lo, a->second.hi};
        }
    }
    ++m_misses;
    return std::nullopt;
}

void HashCache::remember(const FileStamp& stamp, Hash128 hash) {
    std::lock_guard lock(m_mutex);
    m_added[{stamp.dev, stamp.ino}] =
        Record{stamp.dev, stamp.ino, stamp.size, stamp.mtime_ns, stamp.ctime_ns, hash.lo, hash.hi};
}

Result<Hash128> HashCache::hash(int dirfd, const char* name, const struct stat& st) {
    FileStamp stamp = stamp_of(st);
    if (auto h = lookup(stamp)) {
        return *h;
    }
    auto h = xxh3_file(dirfd, name);
    if (!h) {
        return fail(h.error());
    }
    remember(stamp, *h);
    return *h;
}

Status HashCache::save() {
    if (m_path.empty()) {
        return {};
    }
    std::lock_guard lock(m_mutex);
    if (m_added.empty()) {
        return {};  // nothing new: the file on disk is still right
    }
    // Keep other states' records unless the cache grew past its bound; then keep only the
    // records this session used.
    bool keep_unused = m_count + m_added.size() <= k_max_records;
    std::vector<Record> out;
    out.reserve(m_count + m_added.size());
    for (size_t i = 0; i < m_count; ++i) {
        if ((keep_unused || m_used[i].load(std::memory_order_relaxed)) &&
            !m_added.count({m_records[i].dev, m_records[i].ino})) {
            out.push_back(m_records[i]);
        }
    }
    for (const auto& [key, r] : m_added) {
        out.push_back(r);
    }
    std::sort(out.begin(), out.end(), key_less);
    for (auto slash = m_path.find('/', 1); slash != std::string::npos;
         slash = m_path.find('/', slash + 1)) {
        ::mkdir(m_path.substr(0, slash).c_str(), 0755);  // EEXIST is the common case
    }
    // A cache needs no durability: a torn or lost cache only costs a rehash. Write and rename
    // so readers never see half a file, without fsync.
    std::string tmp = m_path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fail(os::errno_error("writing hash cache '" + tmp + "'", errno));
    }
    uint64_t count = out.size();
    std::string header(k_magic, sizeof k_magic);
    header.append(reinterpret_cast<const char*>(&count), sizeof count);
    bool ok = ::write(fd, header.data(), header.size()) == static_cast<ssize_t>(header.size());
    const char* p = reinterpret_cast<const char*>(out.data());
    size_t left = out.size() * sizeof(Record);
    while (ok && left > 0) {
        ssize_t n = ::write(fd, p, left);
        ok = n > 0;
        p += n > 0 ? n : 0;
        left -= n > 0 ? static_cast<size_t>(n) : 0;
    }
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), m_path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return fail(os::errno_error("saving hash cache '" + m_path + "'", e));
    }
    return {};
}

}  // namespace shipshape::state
