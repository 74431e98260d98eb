#include "image/manifest.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "os/errno_error.hpp"
#include "state/hash.hpp"

namespace shipshape::image {

namespace fs = std::filesystem;

namespace {

struct Entry {
    std::string path;
    std::string line;
};

char type_of(mode_t m) {
    if (S_ISREG(m)) {
        return 'f';
    }
    if (S_ISDIR(m)) {
        return 'd';
    }
    if (S_ISLNK(m)) {
        return 'l';
    }
    if (S_ISCHR(m)) {
        return 'c';
    }
    if (S_ISBLK(m)) {
        return 'b';
    }
    if (S_ISFIFO(m)) {
        return 'p';
    }
    return 's';
}

Result<std::string> content_of(const std::string& full, const struct stat& st) {
    char buf[64];
    if (S_ISREG(st.st_mode)) {
        return state::sha256_file(full);
    }
    if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        auto target = fs::read_symlink(full, ec);
        if (ec) {
            return fail(Errc::io, "reading the link " + full + ": " + ec.message());
        }
        return target.string();
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        std::snprintf(buf, sizeof buf, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
        return std::string(buf);
    }
    if (S_ISDIR(st.st_mode)) {
        char value[4];
        ssize_t n = ::lgetxattr(full.c_str(), "trusted.overlay.opaque", value, sizeof value);
        return std::string(n == 1 && value[0] == 'y' ? "opaque" : "-");
    }
    return std::string("-");
}

}  // namespace

std::string sha256_text(const std::string& text) {
    return state::sha256_hex(text);
}

Result<Manifest> manifest_of(const std::string& root) {
    struct stat top {};
    if (::lstat(root.c_str(), &top) != 0) {
        return fail(os::errno_error("reading " + root, errno));
    }
    std::vector<Entry> entries;
    std::vector<std::string> todo{""};
    Manifest out;
    while (!todo.empty()) {
        std::string rel = std::move(todo.back());
        todo.pop_back();
        std::string full = root + rel;
        struct stat st {};
        if (::lstat(full.empty() ? "/" : full.c_str(), &st) != 0) {
            return fail(os::errno_error("reading " + full, errno));
        }
        auto content = content_of(full, st);
        if (!content) {
            return fail(content.error());
        }
        char head[96];
        std::snprintf(head, sizeof head, "%c %04o %u %u %llu ", type_of(st.st_mode),
                      st.st_mode & 07777U, st.st_uid, st.st_gid,
                      S_ISREG(st.st_mode) ? static_cast<unsigned long long>(st.st_size) : 0ULL);
        std::string path = rel.empty() ? "/" : rel;
        entries.push_back(Entry{path, path + "\t" + head + *content + "\n"});
        if (S_ISREG(st.st_mode)) {
            ++out.files;
            out.bytes += static_cast<uint64_t>(st.st_size);
        }
        if (S_ISDIR(st.st_mode) && st.st_dev == top.st_dev) {
            std::error_code ec;
            for (fs::directory_iterator it(full, ec), end; !ec && it != end; it.increment(ec)) {
                todo.push_back(rel + "/" + it->path().filename().string());
            }
            if (ec) {
                return fail(Errc::io, "listing " + full + ": " + ec.message());
            }
        }
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.path < b.path; });
    size_t total = 0;
    for (const auto& e : entries) {
        total += e.line.size();
    }
    out.text.reserve(total);
    for (const auto& e : entries) {
        out.text += e.line;
    }
    return out;
}

Result<void> clamp_times(const std::string& root, int64_t epoch) {
    struct timespec times[2] = {{epoch, 0}, {epoch, 0}};
    std::vector<std::string> todo{root};
    while (!todo.empty()) {
        std::string path = std::move(todo.back());
        todo.pop_back();
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
            return fail(os::errno_error("reading " + path, errno));
        }
        if (S_ISDIR(st.st_mode)) {
            std::error_code ec;
            for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
                todo.push_back(it->path().string());
            }
        }
        if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
            return fail(os::errno_error("setting the time of " + path, errno));
        }
    }
    return {};
}

}  // namespace shipshape::image
