// read_deb: the libarchive side of package/read.hpp. The outer ar archive is read from the file
// in large blocks; control.tar is read into memory (it is small); data.tar is decompressed
// straight from the outer archive's blocks (an inner archive whose read callback pulls the next
// block of the outer member), so nothing is extracted and each byte is touched once: by the
// decompressor, then by SHA-256.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "core/text.hpp"
#include "os/errno_error.hpp"
#include "package/read.hpp"
#include "state/hash.hpp"

namespace shipshape::package {

namespace {

constexpr size_t k_block = 1 << 20;
// A control.tar larger than this is not a package (the largest in Debian are a few MiB).
constexpr size_t k_max_control = 256U << 20;

struct ArchiveFree {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

struct FdClose {
    int fd;
    ~FdClose() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

// libarchive's message, lower-cased at the start and without a trailing period, or `fallback`.
std::string archive_message(archive* a, const char* fallback) {
    const char* s = a ? archive_error_string(a) : nullptr;
    std::string m = s && *s ? s : fallback;
    if (!m.empty() && std::isupper(static_cast<unsigned char>(m[0])) &&
        (m.size() < 2 || !std::isupper(static_cast<unsigned char>(m[1])))) {
        m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
    }
    while (!m.empty() && (m.back() == '.' || m.back() == '\n')) {
        m.pop_back();
    }
    return m;
}

void support_compressed_tar(archive* a) {
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_xz(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_lzma(a);
    archive_read_support_format_tar(a);
}

// The inner archive's source: the outer archive's current member, block by block.
struct OuterMember {
    archive* outer = nullptr;
    std::string error;  // set when the outer archive failed (its message wins)
};

la_ssize_t read_outer(archive* /*inner*/, void* client, const void** buffer) {
    auto* src = static_cast<OuterMember*>(client);
    size_t size = 0;
    la_int64_t offset = 0;
    int r = archive_read_data_block(src->outer, buffer, &size, &offset);
    if (r == ARCHIVE_EOF) {
        return 0;
    }
    if (r < ARCHIVE_WARN) {
        src->error = archive_message(src->outer, "read error");
        return -1;
    }
    return static_cast<la_ssize_t>(size);
}

class DebReader {
  public:
    explicit DebReader(const std::string& path) : m_path(path) {}

    Result<Manifest> read() {
        int fd = ::open(m_path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return fail(os::errno_error("reading '" + m_path + "'", errno));
        }
        FdClose closer{fd};
        char magic[8] = {};
        if (::pread(fd, magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic) ||
            std::memcmp(magic, "!<arch>\n", 8) != 0) {
            return bad("not a Debian package: not an ar archive");
        }
        ArchivePtr outer(archive_read_new());
        archive_read_support_format_ar(outer.get());
        if (archive_read_open_fd(outer.get(), fd, k_block) != ARCHIVE_OK) {
            return bad(archive_message(outer.get(), "cannot open the archive"));
        }
        enum class Stage { version, control, data, done } stage = Stage::version;
        archive_entry* entry = nullptr;
        for (;;) {
            int r = archive_read_next_header(outer.get(), &entry);
            if (r == ARCHIVE_EOF) {
                break;
            }
            if (r < ARCHIVE_WARN) {
                return bad(archive_message(outer.get(), "damaged archive"));
            }
            const char* raw = archive_entry_pathname(entry);
            std::string name = raw ? raw : "";
            if (stage == Stage::version) {
                if (name != "debian-binary") {
                    return bad("not a Debian package: the first member is '" + name +
                               "', not 'debian-binary'");
                }
                auto version = read_member(outer.get(), 64, name);
                if (!version) {
                    return fail(version.error());
                }
                if (!version->starts_with("2.")) {
                    return bad("debian-binary: unsupported format version '" +
                               std::string(trim(*version)) + "' (expected 2.x)");
                }
                stage = Stage::control;
                continue;
            }
            if (stage == Stage::done || name.starts_with("_")) {
                continue;  // dpkg ignores members after data.tar and those starting with '_'
            }
            if (stage == Stage::control) {
                if (!name.starts_with("control.tar")) {
                    return bad("not a Debian package: expected control.tar, found '" + name + "'");
                }
                auto data = read_member(outer.get(), k_max_control, name);
                if (!data) {
                    return fail(data.error());
                }
                if (auto st = read_control(name, *data); !st) {
                    return fail(st.error());
                }
                stage = Stage::data;
                continue;
            }
            if (!name.starts_with("data.tar")) {
                return bad("not a Debian package: expected data.tar, found '" + name + "'");
            }
            if (auto st = read_data(outer.get(), name); !st) {
                return fail(st.error());
            }
            stage = Stage::done;
        }
        if (stage == Stage::version) {
            return bad("not a Debian package: no debian-binary member");
        }
        if (stage == Stage::control) {
            return bad("not a Debian package: no control.tar member");
        }
        if (stage == Stage::data) {
            return bad("not a Debian package: no data.tar member");
        }
        finish_conffiles();
        sort_manifest(m_manifest);
        return std::move(m_manifest);
    }

  private:
    struct ConffileContent {
        std::string sha256;
        uint64_t size = 0;
        std::string text;
        bool found = false;
    };

    tl::unexpected<Error> bad(const std::string& what) const {
        return fail(Errc::invalid_definition, m_path + ": " + what);
    }

    // The current member of `a`, up to `limit` bytes (more is an error); `where` leads the
    // error message ("control.tar.xz: postinst").
    Result<std::string> read_member(archive* a, size_t limit, const std::string& where) {
        std::string out;
        for (;;) {
            const void* buf = nullptr;
            size_t size = 0;
            la_int64_t offset = 0;
            int r = archive_read_data_block(a, &buf, &size, &offset);
            if (r == ARCHIVE_EOF) {
                return out;
            }
            if (r < ARCHIVE_WARN) {
                return bad(where + ": " + archive_message(a, "read error"));
            }
            if (static_cast<size_t>(offset) > out.size()) {
                out.resize(static_cast<size_t>(offset), '\0');
            }
            if (out.size() + size > limit) {
                return bad(where + ": larger than " + std::to_string(limit) + " bytes");
            }
            out.append(static_cast<const char*>(buf), size);
        }
    }

    Status read_control(const std::string& member, const std::string& data) {
        ArchivePtr in(archive_read_new());
        support_compressed_tar(in.get());
        if (archive_read_open_memory(in.get(), data.data(), data.size()) != ARCHIVE_OK) {
            return bad(member + ": " + archive_message(in.get(), "not a tar archive"));
        }
        bool have_control = false;
        std::string conffiles_text;
        archive_entry* entry = nullptr;
        for (;;) {
            int r = archive_read_next_header(in.get(), &entry);
            if (r == ARCHIVE_EOF) {
                break;
            }
            if (r < ARCHIVE_WARN) {
                return bad(member + ": " + archive_message(in.get(), "damaged archive"));
            }
            const char* raw = archive_entry_pathname(entry);
            std::string why;
            auto path = normalise_member(raw ? raw : "", why);
            if (archive_entry_filetype(entry) != AE_IFREG || !path || *path == "/" ||
                archive_entry_hardlink(entry) != nullptr) {
                continue;  // only regular files mean something in control.tar
            }
            std::string name = path->substr(1);
            auto content = read_member(in.get(), k_max_control, member + ": " + name);
            if (!content) {
                return fail(content.error());
            }
            if (name == "control") {
                have_control = true;
                if (auto st = parse_control_file(*content, m_path + ": control", m_manifest); !st) {
                    return st;
                }
            } else if (name == "conffiles") {
                conffiles_text = std::move(*content);
            } else if (name == "md5sums") {
                continue;
            } else if (name == k_manifest_member) {
                m_manifest.requirements = embedded_requirements(*content);
            } else {
                m_manifest.scripts[name] =
                    Script{replace_invalid_utf8(*content), state::sha256_hex(*content)};
            }
        }
        if (!have_control) {
            return bad(member + ": no control file");
        }
        for (auto& listed : parse_conffiles_list(conffiles_text)) {
            std::string why;
            auto path = normalise_member(listed.starts_with("/") ? listed.substr(1) : listed, why);
            if (!path || !listed.starts_with("/")) {
                m_manifest.unsafe.push_back(
                    {"conffiles: " + listed, path ? "not an absolute path" : why});
                continue;
            }
            m_conffiles.emplace(*path, ConffileContent{});
        }
        return {};
    }

    Status read_data(archive* outer, const std::string& member) {
        ArchivePtr in(archive_read_new());
        support_compressed_tar(in.get());
        OuterMember src{outer, {}};
        auto failed = [&](const char* fallback) {
            return bad(member + ": " +
                       (src.error.empty() ? archive_message(in.get(), fallback) : src.error));
        };
        if (archive_read_open(in.get(), &src, nullptr, read_outer, nullptr) != ARCHIVE_OK) {
            return failed("not a tar archive");
        }
        state::Digest digest;
        std::vector<char> zeros;
        archive_entry* entry = nullptr;
        for (;;) {
            int r = archive_read_next_header(in.get(), &entry);
            if (r == ARCHIVE_EOF) {
                break;
            }
            if (r < ARCHIVE_WARN) {
                return failed("damaged archive");
            }
            const char* raw = archive_entry_pathname(entry);
            std::string name = raw ? raw : "";
            std::string why;
            auto path = normalise_member(name, why);
            if (!path) {
                m_manifest.unsafe.push_back({name, why});
                continue;
            }
            if (*path == "/") {
                continue;
            }
            Entry e;
            e.path = std::move(*path);
            e.mode = archive_entry_perm(entry) & 07777U;
            const char* uname = archive_entry_uname(entry);
            const char* gname = archive_entry_gname(entry);
            e.owner = uname && *uname ? uname : std::to_string(archive_entry_uid(entry));
            e.group = gname && *gname ? gname : std::to_string(archive_entry_gid(entry));
            if (const char* link = archive_entry_hardlink(entry)) {
                auto target = normalise_member(link, why);
                if (!target || *target == "/") {
                    m_manifest.unsafe.push_back(
                        {name, "hard link target '" + std::string(link) + "' escapes the root"});
                    continue;
                }
                e.type = EntryType::hardlink;
                e.target = std::move(*target);
                m_manifest.files.push_back(std::move(e));
                continue;
            }
            switch (archive_entry_filetype(entry)) {
                case AE_IFREG: {
                    e.type = EntryType::file;
                    auto conf = m_conffiles.find(e.path);
                    ConffileContent* keep = conf == m_conffiles.end() ? nullptr : &conf->second;
                    auto size = hash_data(in.get(), archive_entry_size(entry), digest, zeros, keep);
                    if (!size) {
                        return failed("damaged archive");
                    }
                    e.size = *size;
                    e.sha256 = digest.finish_hex();
                    if (keep) {
                        keep->sha256 = e.sha256;
                        keep->size = e.size;
                    }
                    break;
                }
                case AE_IFDIR:
                    e.type = EntryType::directory;
                    break;
                case AE_IFLNK: {
                    const char* t = archive_entry_symlink(entry);
                    e.type = EntryType::symlink;
                    e.target = t ? t : "";
                    if (auto escape = symlink_escape(e.path, e.target); !escape.empty()) {
                        m_manifest.unsafe.push_back({name, std::move(escape)});
                        continue;
                    }
                    break;
                }
                case AE_IFCHR:
                    e.type = EntryType::char_device;
                    break;
                case AE_IFBLK:
                    e.type = EntryType::block_device;
                    break;
                case AE_IFIFO:
                    e.type = EntryType::fifo;
                    break;
                default:
                    m_manifest.unsafe.push_back({name, "a socket or unknown member type"});
                    continue;
            }
            m_manifest.files.push_back(std::move(e));
        }
        if (!src.error.empty()) {
            return failed("read error");
        }
        return {};
    }

    // Feeds the current member's data to `digest` (sparse holes as zeros); returns its size,
    // nullopt when the archive fails. Keeps the bytes in `keep` (a conffile) up to the inline
    // limit.
    static std::optional<uint64_t> hash_data(archive* a, int64_t declared, state::Digest& digest,
                                             std::vector<char>& zeros, ConffileContent* keep) {
        uint64_t at = 0;
        auto pad_to = [&](uint64_t offset) {
            while (at < offset) {
                if (zeros.empty()) {
                    zeros.assign(k_block, '\0');
                }
                size_t n = static_cast<size_t>(std::min<uint64_t>(offset - at, zeros.size()));
                digest.update(zeros.data(), n);
                if (keep && keep->text.size() <= k_max_inline_conffile) {
                    keep->text.append(n, '\0');
                }
                at += n;
            }
        };
        if (keep) {
            keep->found = true;
            keep->text.clear();
        }
        for (;;) {
            const void* buf = nullptr;
            size_t size = 0;
            la_int64_t offset = 0;
            int r = archive_read_data_block(a, &buf, &size, &offset);
            if (r == ARCHIVE_EOF) {
                break;
            }
            if (r < ARCHIVE_WARN) {
                return std::nullopt;
            }
            pad_to(static_cast<uint64_t>(offset));
            digest.update(buf, size);
            if (keep && keep->text.size() <= k_max_inline_conffile) {
                keep->text.append(static_cast<const char*>(buf), size);
            }
            at += size;
        }
        pad_to(declared > 0 ? static_cast<uint64_t>(declared) : 0);
        return at;
    }

    void finish_conffiles() {
        for (auto& [path, c] : m_conffiles) {
            m_manifest.conffiles.push_back(c.found ? make_conffile(path, c.sha256, c.size, &c.text)
                                                   : make_conffile(path, "", 0, nullptr));
        }
    }

    const std::string& m_path;
    Manifest m_manifest;
    std::unordered_map<std::string, ConffileContent> m_conffiles;
};

}  // namespace

Result<Manifest> read_deb(const std::string& path) {
    return DebReader(path).read();
}

}  // namespace shipshape::package
