// Opening paths beneath a directory handle without ever leaving it. Apply's targets (beneath the
// --root, or "/") and the ops repo's sources are reached only through these functions: a path is
// resolved component by component from a directory fd, so a symlink planted in a parent
// directory, a `..`, or a directory swapped for a symlink between two calls cannot redirect an
// access outside. openat2(RESOLVE_BENEATH | ...) does the walk in one call where the kernel has it
// (Linux 5.6); elsewhere, and to name the culprit when it refuses, the walk is done per component
// with openat(O_NOFOLLOW | O_DIRECTORY).
//
// Errors (messages name the offending component as `shown` + its path, e.g. "/etc/booking"):
//   Errc::not_found          a component is missing (and Create::no);
//   Errc::conflict           a component is not a directory: "/etc/booking is not a directory";
//   Errc::permission_denied  a component is a symlink that `follow` does not allow, with its
//                            target: "/etc/booking is a symlink (-> /tmp/outside)";
//   Errc::invalid_argument   a ".." component;
//   others                   the OS's, through errno_error.
// Threading: stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace shipshape::os {

// An owned file descriptor (closed on destruction; -1 when empty).
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(Fd&& other) noexcept : m_fd(other.release()) {}
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();

    int get() const { return m_fd; }
    bool valid() const { return m_fd >= 0; }
    int release() {
        int fd = m_fd;
        m_fd = -1;
        return fd;
    }

  private:
    int m_fd = -1;
};

enum class Follow {
    never,   // no component may be a symlink (targets: apply follows nothing it did not declare)
    within,  // relative symlinks that stay beneath the root are followed (sources in the repo)
};
enum class Create { no, yes };

struct OpenedDir {
    Fd fd;                 // O_RDONLY | O_DIRECTORY: readable, fsync-able
    bool created = false;  // some component was created (its parent needs an fsync)
};

// Opens directory `rel` ("a/b", "" for the root itself) beneath `root_fd`. With Create::yes,
// missing components are made with `mode` (like mkdir -p, but never through a symlink).
[[nodiscard]] Result<OpenedDir> open_dir_beneath(int root_fd, std::string_view rel,
                                                 Create create = Create::no,
                                                 Follow follow = Follow::never,
                                                 std::string_view shown = "/",
                                                 unsigned mode = 0755);

// Opens file `rel` beneath `root_fd` for reading (O_RDONLY; a final symlink follows the same rule
// as the parents). Errc::not_found when it is missing.
[[nodiscard]] Result<Fd> open_file_beneath(int root_fd, std::string_view rel, Follow follow,
                                           std::string_view shown = "/");

// Opens an absolute directory path of the machine (the root of a walk: --root, the ops repo).
// Symlinks in it are the operator's own choice and are followed.
[[nodiscard]] Result<Fd> open_root(const std::string& path);

// Reads all of `fd` from its current offset. Errc::io with `what` as context on failure.
[[nodiscard]] Result<std::string> read_fd(int fd, std::string_view what);

// Tests only: false makes every call take the per-component walk, as on a kernel without
// openat2; true restores the default (openat2 where the kernel has it). Not thread-safe.
void use_openat2_for_testing(bool enabled);

// The target of symlink `name` under `dirfd` ("" when it cannot be read).
std::string read_link_at(int dirfd, const char* name);

}  // namespace shipshape::os
