// Internal to state/: reading sources from the ops repo. A source is resolved beneath a handle on
// the repo root (os::open_file_beneath / open_dir_beneath with Follow::within): a symlink in the
// repo that stays in the repo is followed, one that leaves it (an absolute link, or one climbing
// out with "..") is refused, so `source = "files/shadowlink"` with files/shadowlink -> /etc/shadow
// can neither show /etc/shadow in a plan nor install it. Each function returns nullopt on
// success, else the message load_state puts at the `source` key.
#pragma once

#include <optional>
#include <string>

namespace shipshape::state {

// Reads file source `source` (repo-relative) into `out`.
std::optional<std::string> read_file_source(int repo_fd, const std::string& source,
                                            std::string& out);
// Checks that `deb` (a [[package]]'s .deb) is a regular file inside the repo.
std::optional<std::string> check_deb_source(int repo_fd, const std::string& deb);
// Checks that tree source `source` is a directory inside the repo.
std::optional<std::string> check_tree_source(int repo_fd, const std::string& source);

}  // namespace shipshape::state
