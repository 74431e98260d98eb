// Network namespace helpers for containers started in named namespaces (os/container.hpp).
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "os/container.hpp"

namespace shipshape::os {

std::vector<pid_t> pids_in_network_namespace(const std::string& netns_path) {
    std::vector<pid_t> out;
    struct stat want {};
    if (::stat(netns_path.c_str(), &want) != 0) {
        return out;
    }
    DIR* proc = ::opendir("/proc");
    if (!proc) {
        return out;
    }
    const pid_t self = ::getpid();
    while (auto* e = ::readdir(proc)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*e->d_name == '\0' || *end != '\0' || pid == self) {
            continue;
        }
        struct stat st {};
        const std::string ns = std::string("/proc/") + e->d_name + "/ns/net";
        if (::stat(ns.c_str(), &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino) {
            out.push_back(static_cast<pid_t>(pid));
        }
    }
    ::closedir(proc);
    return out;
}

Status wait_for_tcp(const std::string& ipv4, int port, int timeout_ms) {
    struct sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, ipv4.c_str(), &addr.sin_addr) != 1) {
        return fail(Errc::invalid_argument, "not an IPv4 address: '" + ipv4 + "'");
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int last = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        // Non-blocking, each attempt bounded: a SYN sent before the host's link or neighbour
        // entry was ready is otherwise retransmitted by the kernel for minutes.
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s < 0) {
            return fail(Errc::io, std::string("socket: ") + std::strerror(errno));
        }
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
        int r = ::connect(s, reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr);
        last = r == 0 ? 0 : errno;
        if (r != 0 && errno == EINPROGRESS) {
            struct pollfd pfd {};
            pfd.fd = s;
            pfd.events = POLLOUT;
            int ready = ::poll(&pfd, 1, 250);
            int err = ETIMEDOUT;
            socklen_t len = sizeof err;
            if (ready == 1 && ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
                r = 0;
            }
            last = r == 0 ? 0 : err;
        }
        ::close(s);
        if (r == 0) {
            return {};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return fail(Errc::timeout,
                ipv4 + ":" + std::to_string(port) + " did not accept connections within " +
                    std::to_string(timeout_ms / 1000) + " s (" + std::strerror(last) + ")");
}

}  // namespace shipshape::os
