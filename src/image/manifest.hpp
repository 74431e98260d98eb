// File manifests of root filesystems: one line per entry, sorted by path, naming its type,
// mode, owner, size and content (sha256 of a regular file, a symlink's target, a device's
// numbers, an overlay whiteout or opaque mark). Times are left out on purpose: two builds of
// the same spec compare equal when their files do. The image id hashes the manifest.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.hpp"

namespace shipshape::image {

struct Manifest {
    std::string text;  // "PATH\tTYPE MODE UID GID SIZE CONTENT\n" per entry, sorted by PATH
    uint64_t files = 0;
    uint64_t bytes = 0;  // regular files' sizes, summed
};

// Walks `root` without following symlinks or crossing into other file systems. Paths are
// "/"-rooted ("/etc/hostname"); the root itself is "/". Errors name the path that failed.
[[nodiscard]] Result<Manifest> manifest_of(const std::string& root);

// The lower-case hex SHA-256 of a text.
std::string sha256_text(const std::string& text);

// Sets the modification time of every entry under `root` (symlinks included) to `epoch`
// seconds, so a layer made at two times has the same times when SOURCE_DATE_EPOCH says so.
[[nodiscard]] Result<void> clamp_times(const std::string& root, int64_t epoch);

}  // namespace shipshape::image
