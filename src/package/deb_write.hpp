// The archive writers behind build_package (implemented with libarchive in
// deb_write_archive.cpp): the data tar with every file hashed while it is copied, the control
// tar, and the ar archive that makes the .deb. Internal to package/build.
//
// Tars are POSIX (pax, extended headers only where ustar cannot hold a name), entries named
// "./usr/bin/x" ("./usr/bin/" for directories) in the order given, owners written as names and
// numeric ids. No writer puts a time of its own anywhere: gzip headers carry no mtime, zstd and
// xz headers have none.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "package/build.hpp"
#include "package/manifest.hpp"

namespace shipshape::package {

struct PayloadEntry {
    std::string path;  // "usr/bin/booking", no leading '/'; "" is the root
    EntryType type = EntryType::file;
    std::string source;  // files: the real path to read
    uint64_t size = 0;   // files: as planned (a file that changes size while read is an error)
    uint32_t mode = 0;
    std::string owner = "root";
    std::string group = "root";
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::string target;  // symlinks
    int64_t mtime = 0;
    bool keep_content = false;  // conffiles: keep the bytes for the manifest
};

struct FileDigest {
    std::string sha256;
    std::string md5;
    uint64_t size = 0;
    std::string content;  // only for keep_content entries
};

struct TarMember {
    std::string name;  // "control", "postinst"
    std::string content;
    uint32_t mode = 0644;
};

// The payload of `spec`, sorted by path (parents first, the root "" included), mtimes clamped to
// `clamp`. Errc::invalid_definition with every problem at its spec position: sources that are
// missing or escape the spec's directory, duplicate destinations, paths that need a parent
// that is not a directory, symlinks escaping the root, conffiles that are not files in it.
[[nodiscard]] Result<std::vector<PayloadEntry>> plan_payload(const PackageSpec& spec,
                                                             int64_t clamp);

// ".zst", ".xz", ".gz", "".
std::string_view compression_suffix(Compression c);

// Writes the compressed data tar to `fd` (from its current offset). `digests` gets one element
// per entry (filled for files). Errc::io naming the source or libarchive's complaint.
[[nodiscard]] Status write_data_tar(int fd, const std::vector<PayloadEntry>& entries,
                                    const BuildOptions& options, std::vector<FileDigest>& digests);

// Writes the compressed control tar ("./" then each member, in the order given) to `fd`.
[[nodiscard]] Status write_control_tar(int fd, const std::vector<TarMember>& members,
                                       const BuildOptions& options, int64_t mtime);

// Writes the .deb to `out_fd`: debian-binary, control.tar.X and data.tar.X (read from the start
// of `control_fd` and `data_fd`), each member dated `mtime`, owned 0:0, mode 0644.
[[nodiscard]] Status write_deb_ar(int out_fd, int control_fd, int data_fd,
                                  const BuildOptions& options, int64_t mtime);

}  // namespace shipshape::package
