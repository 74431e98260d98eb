// Reading package files from disk (read.hpp): .debs (through deb_read_archive.cpp, libarchive)
// and manifest documents. Apart from read.cpp's pure parsers, which the installed-package reader
// (installed.cpp, linked into the static agent) uses without linking libarchive.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

#include "core/text.hpp"
#include "os/errno_error.hpp"
#include "os/fan_out.hpp"
#include "os/file_system.hpp"
#include "package/manifest.hpp"
#include "package/read.hpp"

namespace shipshape::package {

std::vector<Result<Manifest>> read_debs(const std::vector<std::string>& paths, unsigned threads) {
    std::vector<std::optional<Result<Manifest>>> slots(paths.size());
    unsigned cores = std::max(1U, std::thread::hardware_concurrency());
    unsigned n =
        threads == 0 ? std::min<unsigned>(cores, static_cast<unsigned>(paths.size())) : threads;
    os::fan_out(paths.size(), static_cast<int>(std::max(1U, n)),
                [&](size_t i) { slots[i] = read_deb(paths[i]); });
    std::vector<Result<Manifest>> out;
    out.reserve(paths.size());
    for (auto& s : slots) {
        out.push_back(std::move(*s));
    }
    return out;
}

Result<Manifest> load_package_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(os::errno_error("reading '" + path + "'", errno));
    }
    char magic[8] = {};
    ssize_t n = ::pread(fd, magic, sizeof magic, 0);
    ::close(fd);
    if (n == static_cast<ssize_t>(sizeof magic) && std::memcmp(magic, "!<arch>\n", 8) == 0) {
        return read_deb(path);
    }
    auto text = os::read_whole_file(path);
    if (!text) {
        return fail(text.error());
    }
    if (!trim(*text).starts_with("{")) {
        if (path.ends_with(".deb") || path.ends_with(".udeb")) {
            return read_deb(path);  // says what is wrong with it as a package
        }
        return fail(Errc::invalid_definition,
                    path +
                        ": neither a Debian package (an ar archive) nor a manifest document "
                        "(JSON)");
    }
    return parse_manifest_json(*text, path);
}

}  // namespace shipshape::package
