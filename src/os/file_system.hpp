// The file-system seam. Every path a caller passes is absolute within the file system's root:
// LocalFileSystem("/") is the real machine, LocalFileSystem("/tmp/x") confines every access to
// /tmp/x (tests and image builds use that). Writes that replace a file are atomic: a temporary
// file in the same directory is written, fsynced and renamed over the target, and the directory
// is fsynced, so a crash leaves either the old or the new content, never a mix.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape::os {

struct WriteOptions {
    unsigned mode = 0644;
};

class FileSystem {
  public:
    virtual ~FileSystem() = default;

    // Returns the whole file, or Errc::not_found / permission_denied / io.
    [[nodiscard]] virtual Result<std::string> read_file(const std::string& path) const = 0;
    // Replaces `path` atomically (see above). Creates missing parent directories.
    [[nodiscard]] virtual Status write_file_atomic(const std::string& path, std::string_view data,
                                                   const WriteOptions& options) = 0;
    // Creates `path` and its missing parents (mode 0755). Existing directories are fine.
    [[nodiscard]] virtual Status create_directories(const std::string& path) = 0;
    virtual bool exists(const std::string& path) const = 0;
    virtual bool is_directory(const std::string& path) const = 0;
    // Returns the names (not paths) of the entries of a directory, sorted.
    [[nodiscard]] virtual Result<std::vector<std::string>> list_directory(
        const std::string& path) const = 0;
    // Returns the real path of `path` under the root (for handing to other processes).
    virtual std::string host_path(const std::string& path) const = 0;
};

std::unique_ptr<FileSystem> make_local_file_system(std::string root = "/");

// Reads a whole file of the real machine in as few reads as its size allows (no iostreams; /proc
// files report size 0, so the buffer grows instead). Returns its bytes, or Errc::not_found /
// permission_denied / io with "reading 'PATH': <reason>".
[[nodiscard]] Result<std::string> read_whole_file(const std::string& path);

// Replaces a file of the real machine atomically (write a temporary, fsync, rename, fsync the
// directory), creating missing parent directories. Same errors as FileSystem::write_file_atomic.
[[nodiscard]] Status write_whole_file_atomic(const std::string& path, std::string_view data,
                                             const WriteOptions& options = {});

// Takes group and other permissions away from a file or directory of the real machine (0700 for
// a directory, the owner's bits only for a file). Errc::not_found / permission_denied / io.
[[nodiscard]] Status restrict_to_owner(const std::string& path);

// Path helpers (pure string operations).
std::string path_join(std::string_view a, std::string_view b);
std::string path_parent(std::string_view path);
// Makes `path` absolute against `base` and removes "." and ".." components.
std::string path_absolute(std::string_view path, std::string_view base);

}  // namespace shipshape::os
