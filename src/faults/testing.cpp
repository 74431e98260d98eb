#include "faults/testing.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace shipshape::faults::testing {

const FaultOutcome* outcome(const Report& report, FaultKind kind) {
    for (const auto& o : report.faults) {
        if (o.fault.kind == kind) {
            return &o;
        }
    }
    return nullptr;
}

uint64_t count(const FaultOutcome& outcome, std::string_view name) {
    for (const auto& [k, v] : outcome.counts) {
        if (k == name) {
            return v;
        }
    }
    return 0;
}

namespace {

std::string read_all(const std::string& path) {
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return out;
    }
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

}  // namespace

ReplaceAttempt atomic_replace(const std::string& path, const std::string& content) {
    ReplaceAttempt r;
    std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    std::string dir = path.substr(0, path.rfind('/'));
    auto failed = [&](const char* step) {
        r.error = errno;
        r.failed_step = step;
        ::unlink(tmp.c_str());
    };
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        failed("open");
    } else {
        size_t done = 0;
        while (done < content.size()) {
            ssize_t n = ::write(fd, content.data() + done, content.size() - done);
            if (n < 0) {
                break;
            }
            done += static_cast<size_t>(n);
        }
        if (done < content.size()) {
            failed("write");
        } else if (::fsync(fd) != 0) {
            failed("fsync");
        }
        if (::close(fd) != 0 && r.error == 0) {
            failed("close");
        }
        if (r.error == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) {
            failed("rename");
        }
        if (r.error == 0) {
            int d = ::open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (d < 0 || ::fsync(d) != 0) {
                failed("fsync directory");
            }
            if (d >= 0) {
                ::close(d);
            }
        }
    }
    r.content_after = read_all(path);
    return r;
}

int retry(int max_attempts, const std::function<bool()>& attempt) {
    for (int i = 1; i <= max_attempts; ++i) {
        if (attempt()) {
            return i;
        }
    }
    return 0;
}

int listen_loopback(uint16_t& port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, 128) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        if (fd >= 0) {
            ::close(fd);
        }
        return -1;
    }
    port = ntohs(addr.sin_port);
    return fd;
}

int connect_loopback(uint16_t port, int timeout_ms) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, timeout_ms) == 0) {
            err = ETIMEDOUT;
        } else {
            socklen_t len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
    }
    ::close(fd);
    return err;
}

}  // namespace shipshape::faults::testing
