#include "state/hash.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <xxhash.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include "os/errno_error.hpp"

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

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned len = 0;
    EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned i = 0; i < len; ++i) {
        out += k_hex[md[i] >> 4];
        out += k_hex[md[i] & 15];
    }
    return out;
}

Result<std::string> sha256_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(os::errno_error("reading '" + path + "'", errno));
    }
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return sha256_hex(data);
}

FileStamp stamp_of(const struct stat& st) {
    return FileStamp{static_cast<uint64_t>(st.st_dev),
                     static_cast<uint64_t>(st.st_ino),
                     static_cast<uint64_t>(st.st_size),
                     int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
                     int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec};
}

// Cache file: "SSHC0001", u64 count, then per entry: 5 stamp words, 2 hash words, u32 path
// length, path bytes. Native byte order: the cache never leaves the machine.
namespace {

constexpr char k_magic[8] = {'S', 'S', 'H', 'C', '0', '0', '0', '1'};

template <typename T>
bool get(const char*& p, const char* end, T& out) {
    if (static_cast<size_t>(end - p) < sizeof(T)) {
        return false;
    }
    std::memcpy(&out, p, sizeof(T));
    p += sizeof(T);
    return true;
}

template <typename T>
void put(std::string& out, const T& value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

}  // namespace

HashCache::HashCache(std::string path) : m_path(std::move(path)) {
    std::ifstream in(m_path, std::ios::binary);
    if (!in) {
        return;
    }
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const char* p = data.data();
    const char* end = p + data.size();
    if (data.size() < sizeof k_magic || std::memcmp(p, k_magic, sizeof k_magic) != 0) {
        return;
    }
    p += sizeof k_magic;
    uint64_t count = 0;
    if (!get(p, end, count)) {
        return;
    }
    m_entries.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        Entry e;
        uint32_t len = 0;
        bool ok = get(p, end, e.stamp.dev) && get(p, end, e.stamp.ino) &&
                  get(p, end, e.stamp.size) && get(p, end, e.stamp.mtime_ns) &&
                  get(p, end, e.stamp.ctime_ns) && get(p, end, e.hash.lo) &&
                  get(p, end, e.hash.hi) && get(p, end, len);
        if (!ok || static_cast<size_t>(end - p) < len) {
            m_entries.clear();
            return;
        }
        m_entries.emplace(std::string(p, len), e);
        p += len;
    }
}

std::optional<Hash128> HashCache::lookup(const std::string& real_path, const FileStamp& stamp) {
    std::lock_guard lock(m_mutex);
    auto it = m_entries.find(real_path);
    if (it == m_entries.end() || it->second.stamp != stamp) {
        ++m_misses;
        return std::nullopt;
    }
    it->second.used = true;
    ++m_hits;
    return it->second.hash;
}

void HashCache::remember(const std::string& real_path, const FileStamp& stamp, Hash128 hash) {
    std::lock_guard lock(m_mutex);
    m_entries[real_path] = Entry{stamp, hash, true};
    m_dirty = true;
}

Result<Hash128> HashCache::hash(int dirfd, const char* name, const std::string& real_path,
                                const struct stat& st) {
    FileStamp stamp = stamp_of(st);
    if (auto h = lookup(real_path, stamp)) {
        return *h;
    }
    auto h = xxh3_file(dirfd, name);
    if (!h) {
        return fail(h.error());
    }
    remember(real_path, stamp, *h);
    return *h;
}

Status HashCache::save() {
    if (m_path.empty()) {
        return {};
    }
    std::lock_guard lock(m_mutex);
    size_t used = 0;
    for (const auto& [path, e] : m_entries) {
        used += e.used ? 1 : 0;
    }
    if (!m_dirty && used == m_entries.size()) {
        return {};
    }
    std::string out(k_magic, sizeof k_magic);
    put(out, uint64_t{used});
    for (const auto& [path, e] : m_entries) {
        if (!e.used) {
            continue;
        }
        put(out, e.stamp.dev);
        put(out, e.stamp.ino);
        put(out, e.stamp.size);
        put(out, e.stamp.mtime_ns);
        put(out, e.stamp.ctime_ns);
        put(out, e.hash.lo);
        put(out, e.hash.hi);
        put(out, static_cast<uint32_t>(path.size()));
        out += path;
    }
    // A cache needs no durability: a torn or lost cache only costs a rehash. Write and rename
    // so readers never see half a file, without fsync.
    for (auto slash = m_path.find('/', 1); slash != std::string::npos;
         slash = m_path.find('/', slash + 1)) {
        ::mkdir(m_path.substr(0, slash).c_str(), 0755);  // EEXIST is the common case
    }
    std::string tmp = m_path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(out.data(), static_cast<std::streamsize>(out.size()));
        if (!f) {
            ::unlink(tmp.c_str());
            return fail(Errc::io, "writing hash cache '" + tmp + "'");
        }
    }
    if (::rename(tmp.c_str(), m_path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return fail(os::errno_error("renaming hash cache to '" + m_path + "'", e));
    }
    m_dirty = false;
    return {};
}

}  // namespace shipshape::state
