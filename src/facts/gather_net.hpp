// The network readings of the local host that need system calls rather than files: netmask
// prefix lengths, the owners of socket inodes (/proc/PID/fd links) and TCP listeners through
// sock_diag. Internal to the facts module (gather.cpp); thread-safe, no globals.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/error.hpp"
#include "facts/facts.hpp"

namespace shipshape::facts::detail {

// The number of bits set in an AF_INET or AF_INET6 netmask; 0 for a null mask.
int prefix_length(const sockaddr* mask, int family);

// Finds the process holding each wanted socket inode by reading /proc/[pid]/fd links below
// `proc`; stops as soon as every inode has an owner. Processes we may not inspect are skipped.
std::unordered_map<uint64_t, int64_t> socket_owners(const std::string& proc,
                                                    std::unordered_set<uint64_t> wanted);

// TCP sockets in LISTEN for `protocol` ("tcp" or "tcp6") through sock_diag, with each one's
// inode in `inodes` (same order). Errc from the socket calls (os::errno_error, context
// "sock_diag") when the query fails; the caller then reads /proc/net instead.
Result<std::vector<Socket>> tcp_listeners(std::string_view protocol, std::vector<uint64_t>& inodes);

}  // namespace shipshape::facts::detail
