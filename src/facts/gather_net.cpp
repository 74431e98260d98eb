#include "facts/gather_net.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "facts/text.hpp"
#include "os/errno_error.hpp"

namespace shipshape::facts::detail {

int prefix_length(const sockaddr* mask, int family) {
    if (mask == nullptr) {
        return 0;
    }
    const auto* bytes = family == AF_INET
                            ? reinterpret_cast<const unsigned char*>(
                                  &reinterpret_cast<const sockaddr_in*>(mask)->sin_addr)
                            : reinterpret_cast<const unsigned char*>(
                                  &reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    int bits = 0;
    for (size_t i = 0; i < (family == AF_INET ? 4u : 16u); ++i) {
        bits += std::popcount(bytes[i]);
    }
    return bits;
}

// Finds the process holding each wanted socket inode by reading /proc/[pid]/fd links; stops as
// soon as every inode has an owner. Processes we may not inspect are skipped: not ours to see.
std::unordered_map<uint64_t, int64_t> socket_owners(const std::string& proc,
                                                    std::unordered_set<uint64_t> wanted) {
    std::unordered_map<uint64_t, int64_t> owners;
    DIR* dir = ::opendir(proc.c_str());
    if (dir == nullptr) {
        return owners;
    }
    while (const dirent* entry = ::readdir(dir)) {
        int64_t pid = 0;
        if (!parse_number(std::string_view(entry->d_name), pid)) {
            continue;
        }
        int fd_dir = ::open((proc + "/" + entry->d_name + "/fd").c_str(),
                            O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR* fds = fd_dir < 0 ? nullptr : ::fdopendir(fd_dir);
        if (fds == nullptr) {
            if (fd_dir >= 0) {
                ::close(fd_dir);
            }
            continue;
        }
        while (const dirent* fd = ::readdir(fds)) {
            if (fd->d_name[0] == '.') {
                continue;
            }
            char target[64];
            ssize_t n = ::readlinkat(fd_dir, fd->d_name, target, sizeof target);
            std::string_view link(target, n > 0 ? static_cast<size_t>(n) : 0);
            uint64_t inode = 0;
            if (link.starts_with("socket:[") && link.ends_with(']') &&
                parse_number(link.substr(8, link.size() - 9), inode) && wanted.erase(inode) != 0) {
                owners.emplace(inode, pid);
            }
        }
        ::closedir(fds);
        if (wanted.empty()) {
            break;
        }
    }
    ::closedir(dir);
    return owners;
}

// TCP sockets in LISTEN through sock_diag. The kernel answers from its listening hash alone,
// where each read of /proc/net/tcp walks every bucket of the established hash: about 2 ms per
// read on a host with 25 GB of memory, which would be most of our budget.
Result<std::vector<Socket>> tcp_listeners(std::string_view protocol,
                                          std::vector<uint64_t>& inodes) {
    const int family = protocol == "tcp" ? AF_INET : AF_INET6;
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        return fail(os::errno_error("sock_diag", errno));
    }
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.request.sdiag_family = static_cast<uint8_t>(family);
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = 1u << 10;  // TCP_LISTEN
    if (::send(fd, &message, sizeof message, 0) < 0) {
        int err = errno;
        ::close(fd);
        return fail(os::errno_error("sock_diag", err));
    }
    constexpr size_t k_header = (sizeof(nlmsghdr) + NLMSG_ALIGNTO - 1) & ~size_t{NLMSG_ALIGNTO - 1};
    std::vector<Socket> out;
    inodes.clear();
    std::vector<char> buffer(32768);
    for (;;) {
        ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? errno : EPROTO;
            ::close(fd);
            return fail(os::errno_error("sock_diag", err));
        }
        for (size_t at = 0, size = static_cast<size_t>(n); at + k_header <= size;) {
            nlmsghdr header;
            std::memcpy(&header, buffer.data() + at, sizeof header);
            if (header.nlmsg_len < k_header || at + header.nlmsg_len > size ||
                header.nlmsg_type == NLMSG_DONE || header.nlmsg_type == NLMSG_ERROR) {
                int err = header.nlmsg_type == NLMSG_DONE ? 0 : EPROTO;
                if (header.nlmsg_type == NLMSG_ERROR &&
                    header.nlmsg_len >= k_header + sizeof(int)) {
                    std::memcpy(&err, buffer.data() + at + k_header, sizeof err);
                    err = -err;
                }
                ::close(fd);
                if (err != 0) {
                    return fail(os::errno_error("sock_diag", err));
                }
                return out;
            }
            inet_diag_msg diag{};
            std::memcpy(&diag, buffer.data() + at + k_header,
                        std::min(sizeof diag, header.nlmsg_len - k_header));
            char text[INET6_ADDRSTRLEN];
            if (inet_ntop(family, diag.id.idiag_src, text, sizeof text) != nullptr) {
                Socket& socket = out.emplace_back();
                socket.protocol = protocol;
                socket.address = text;
                socket.port = ntohs(diag.id.idiag_sport);
                inodes.push_back(diag.idiag_inode);
            }
            at += (header.nlmsg_len + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
        }
    }
}

}  // namespace shipshape::facts::detail
