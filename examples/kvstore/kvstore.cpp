#include "kvstore.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace kvstore {

namespace {

bool write_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            return false;
        }
        done += static_cast<size_t>(n);
    }
    return true;
}

sockaddr_in loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    return addr;
}

}  // namespace

bool Store::put(const std::string& key, const std::string& value) {
    std::string path = m_dir + "/" + key;
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return false;
    }
    bool ok = write_all(fd, value) && ::fsync(fd) == 0;
    ok = ::close(fd) == 0 && ok;
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return false;
    }
    int dir = ::open(m_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok = dir >= 0 && ::fsync(dir) == 0;
    if (dir >= 0) {
        ::close(dir);
    }
    return ok;
}

std::optional<std::string> Store::get(const std::string& key) const {
    int fd = ::open((m_dir + "/" + key).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return std::nullopt;
    }
    std::string out;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

bool put_without_sync(const std::string& dir, const std::string& key, const std::string& value) {
    int fd = ::open((dir + "/" + key).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return false;
    }
    bool ok = write_all(fd, value);
    return ::close(fd) == 0 && ok;
}

void start_echo_server(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(port);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    std::thread([fd] {
        char buf[2048];
        for (;;) {
            sockaddr_in from{};
            socklen_t len = sizeof from;
            ssize_t n =
                ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
            if (n > 0) {
                ::sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
                         len);
            }
        }
    }).detach();
}

int request_with_retries(uint16_t port, const std::string& request, int attempts, int timeout_ms) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(port);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int used = 0;
    for (int i = 1; i <= attempts && used == 0; ++i) {
        ::send(fd, request.data(), request.size(), 0);
        pollfd p{fd, POLLIN, 0};
        while (::poll(&p, 1, timeout_ms) > 0) {
            char buf[2048];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0 && std::string(buf, static_cast<size_t>(n)) == request) {
                used = i;
                break;
            }
        }
    }
    ::close(fd);
    return used;
}

}  // namespace kvstore
