// The libarchive adapter that writes .deb archives (package/deb_write.hpp), and the one place
// package hashes file content (OpenSSL's EVP sha256 and md5, fed the same chunks that go into
// the tar, so every file is read once).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <span>
#include <thread>

#include "core/text.hpp"
#include "package/deb_write.hpp"

namespace shipshape::package {

namespace {

constexpr size_t k_chunk = size_t{256} * 1024;

struct ArchiveFree {
    void operator()(archive* a) const { archive_write_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

struct DigestFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using DigestPtr = std::unique_ptr<EVP_MD_CTX, DigestFree>;

struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

Error archive_error(archive* a, std::string_view what) {
    const char* msg = archive_error_string(a);
    return Error(Errc::io, std::string(what) + ": " + (msg != nullptr ? msg : "libarchive failed"));
}

Error errno_error(std::string_view what, int err) {
    return Error(err == ENOENT
                     ? Errc::not_found
                     : (err == EACCES || err == EPERM ? Errc::permission_denied : Errc::io),
                 std::string(what) + ": " + std::strerror(err));
}

// A tar writer over `fd` with the chosen compressor, nothing padded after its last byte.
Result<ArchivePtr> open_tar(int fd, const BuildOptions& o) {
    ArchivePtr a(archive_write_new());
    if (!a) {
        return fail(Errc::io, "libarchive: out of memory");
    }
    int rc = archive_write_set_format_pax_restricted(a.get());
    switch (o.compression) {
        case Compression::zstd: {
            if (rc == ARCHIVE_OK) {
                rc = archive_write_add_filter_zstd(a.get());
            }
            // Multi-threaded zstd writes the same bytes whatever the count (>= 1).
            int threads =
                o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
            std::string t = std::to_string(threads < 1 ? 1 : threads);
            if (rc == ARCHIVE_OK) {
                rc = archive_write_set_filter_option(a.get(), "zstd", "threads", t.c_str());
            }
            break;
        }
        case Compression::xz:
            if (rc == ARCHIVE_OK) {
                rc = archive_write_add_filter_xz(a.get());
            }
            break;
        case Compression::gzip:
            if (rc == ARCHIVE_OK) {
                rc = archive_write_add_filter_gzip(a.get());
            }
            // Without this the gzip header carries the time of the build.
            if (rc == ARCHIVE_OK) {
                rc = archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr);
            }
            if (rc == ARCHIVE_OK) {
                rc = archive_write_set_filter_option(a.get(), "gzip", "compression-level", "9");
            }
            break;
        case Compression::none:
            if (rc == ARCHIVE_OK) {
                rc = archive_write_add_filter_none(a.get());
            }
            break;
    }
    if (rc == ARCHIVE_OK) {
        rc = archive_write_set_bytes_in_last_block(a.get(), 1);
    }
    if (rc == ARCHIVE_OK) {
        rc = archive_write_open_fd(a.get(), fd);
    }
    if (rc != ARCHIVE_OK) {
        return fail(archive_error(a.get(), "opening a tar writer"));
    }
    return a;
}

EntryPtr make_entry(const std::string& name, mode_t type, uint32_t mode, int64_t mtime) {
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_mtime(e.get(), mtime, 0);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    archive_entry_set_uname(e.get(), "root");
    archive_entry_set_gname(e.get(), "root");
    return e;
}

Status write_bytes(archive* a, const std::string& what, const char* data, size_t n) {
    while (n > 0) {
        la_ssize_t w = archive_write_data(a, data, n);
        if (w <= 0) {
            return fail(archive_error(a, what));
        }
        data += w;
        n -= static_cast<size_t>(w);
    }
    return {};
}

}  // namespace

std::string_view compression_suffix(Compression c) {
    switch (c) {
        case Compression::zstd:
            return ".zst";
        case Compression::xz:
            return ".xz";
        case Compression::gzip:
            return ".gz";
        case Compression::none:
            return "";
    }
    return "";
}

Status write_data_tar(int fd, const std::vector<PayloadEntry>& entries, const BuildOptions& options,
                      std::vector<FileDigest>& digests) {
    auto a = open_tar(fd, options);
    if (!a) {
        return fail(a.error());
    }
    DigestPtr sha(EVP_MD_CTX_new());
    DigestPtr md5(EVP_MD_CTX_new());
    std::vector<char> buf(k_chunk);
    digests.assign(entries.size(), FileDigest{});
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        std::string name = e.path.empty() ? "./" : "./" + e.path;
        mode_t type = e.type == EntryType::directory ? AE_IFDIR
                      : e.type == EntryType::symlink ? AE_IFLNK
                                                     : AE_IFREG;
        if (e.type == EntryType::directory && !e.path.empty()) {
            name += "/";
        }
        EntryPtr entry = make_entry(name, type, e.mode, e.mtime);
        archive_entry_set_uid(entry.get(), e.uid);
        archive_entry_set_gid(entry.get(), e.gid);
        archive_entry_set_uname(entry.get(), e.owner.c_str());
        archive_entry_set_gname(entry.get(), e.group.c_str());
        if (e.type == EntryType::symlink) {
            archive_entry_set_symlink(entry.get(), e.target.c_str());
        }
        Fd file;
        if (e.type == EntryType::file) {
            file.fd = ::open(e.source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (file.fd < 0) {
                return fail(errno_error("reading '" + e.source + "'", errno));
            }
            archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.size));
        }
        if (archive_write_header(a->get(), entry.get()) != ARCHIVE_OK) {
            return fail(archive_error(a->get(), "writing '" + name + "' into data.tar"));
        }
        if (e.type != EntryType::file) {
            continue;
        }
        std::string what = "reading '" + e.source + "'";
        if (EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) != 1 ||
            EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) != 1) {
            return fail(Errc::internal, what + ": cannot initialise the digests");
        }
        uint64_t done = 0;
        while (true) {
            ssize_t n = ::read(file.fd, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return fail(errno_error(what, errno));
            }
            if (n == 0) {
                break;
            }
            done += static_cast<uint64_t>(n);
            if (done > e.size) {
                break;
            }
            EVP_DigestUpdate(sha.get(), buf.data(), static_cast<size_t>(n));
            EVP_DigestUpdate(md5.get(), buf.data(), static_cast<size_t>(n));
            if (e.keep_content) {
                digests[i].content.append(buf.data(), static_cast<size_t>(n));
            }
            if (auto st = write_bytes(a->get(), "writing '" + name + "' into data.tar", buf.data(),
                                      static_cast<size_t>(n));
                !st) {
                return st;
            }
        }
        if (done != e.size) {
            return fail(Errc::io, what + ": the file changed size while the package was built");
        }
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(sha.get(), md, &len);
        digests[i].sha256 = to_hex(std::span<const unsigned char>(md, len));
        EVP_DigestFinal_ex(md5.get(), md, &len);
        digests[i].md5 = to_hex(std::span<const unsigned char>(md, len));
        digests[i].size = done;
    }
    if (archive_write_close(a->get()) != ARCHIVE_OK) {
        return fail(archive_error(a->get(), "finishing data.tar"));
    }
    return {};
}

Status write_control_tar(int fd, const std::vector<TarMember>& members, const BuildOptions& options,
                         int64_t mtime) {
    auto a = open_tar(fd, options);
    if (!a) {
        return fail(a.error());
    }
    EntryPtr root = make_entry("./", AE_IFDIR, 0755, mtime);
    if (archive_write_header(a->get(), root.get()) != ARCHIVE_OK) {
        return fail(archive_error(a->get(), "writing control.tar"));
    }
    for (const auto& m : members) {
        EntryPtr e = make_entry("./" + m.name, AE_IFREG, m.mode, mtime);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(m.content.size()));
        std::string what = "writing '" + m.name + "' into control.tar";
        if (archive_write_header(a->get(), e.get()) != ARCHIVE_OK) {
            return fail(archive_error(a->get(), what));
        }
        if (auto st = write_bytes(a->get(), what, m.content.data(), m.content.size()); !st) {
            return st;
        }
    }
    if (archive_write_close(a->get()) != ARCHIVE_OK) {
        return fail(archive_error(a->get(), "finishing control.tar"));
    }
    return {};
}

Status write_deb_ar(int out_fd, int control_fd, int data_fd, const BuildOptions& options,
                    int64_t mtime) {
    ArchivePtr a(archive_write_new());
    int rc = archive_write_set_format_ar_svr4(a.get());
    if (rc == ARCHIVE_OK) {
        rc = archive_write_add_filter_none(a.get());
    }
    if (rc == ARCHIVE_OK) {
        rc = archive_write_set_bytes_in_last_block(a.get(), 1);
    }
    if (rc == ARCHIVE_OK) {
        rc = archive_write_open_fd(a.get(), out_fd);
    }
    if (rc != ARCHIVE_OK) {
        return fail(archive_error(a.get(), "opening the .deb writer"));
    }
    std::string suffix(compression_suffix(options.compression));
    auto member = [&](const std::string& name, uint64_t size) -> Status {
        EntryPtr e = make_entry(name, AE_IFREG, 0644, mtime);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
        if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) {
            return fail(archive_error(a.get(), "writing the .deb member " + name));
        }
        return {};
    };
    std::string version = "2.0\n";
    if (auto st = member("debian-binary", version.size()); !st) {
        return st;
    }
    if (auto st = write_bytes(a.get(), "writing debian-binary", version.data(), version.size());
        !st) {
        return st;
    }
    std::vector<char> buf(k_chunk);
    for (auto [fd, name] :
         {std::pair{control_fd, "control.tar" + suffix}, std::pair{data_fd, "data.tar" + suffix}}) {
        struct stat st {};
        if (::fstat(fd, &st) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
            return fail(errno_error("reading back " + name, errno));
        }
        if (auto s = member(name, static_cast<uint64_t>(st.st_size)); !s) {
            return s;
        }
        while (true) {
            ssize_t n = ::read(fd, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return fail(errno_error("reading back " + name, errno));
            }
            if (n == 0) {
                break;
            }
            if (auto s =
                    write_bytes(a.get(), "writing " + name, buf.data(), static_cast<size_t>(n));
                !s) {
                return s;
            }
        }
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
        return fail(archive_error(a.get(), "finishing the .deb"));
    }
    return {};
}

}  // namespace shipshape::package
