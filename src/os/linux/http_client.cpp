#include "os/http_client.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>

#include "os/errno_error.hpp"

namespace shipshape::os {

namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

Result<int> connect_to(const std::string& host, int port, Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string service = std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
        return fail(Errc::unreachable,
                    "resolving " + host + ": " + std::string(::gai_strerror(rc)));
    }
    std::string last = "no address";
    for (addrinfo* a = found; a; a = a->ai_next) {
        int fd =
            ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            last = std::strerror(errno);
            continue;
        }
        if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            last = std::strerror(errno);
            ::close(fd);
            continue;
        }
        pollfd p{fd, POLLOUT, 0};
        int n = 0;
        while ((n = ::poll(&p, 1, ms_left(deadline))) < 0 && errno == EINTR) {
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (n == 1) {
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
        if (n == 1 && err == 0) {
            ::freeaddrinfo(found);
            return fd;
        }
        last = n == 0 ? "timed out" : std::strerror(err);
        ::close(fd);
    }
    ::freeaddrinfo(found);
    return fail(Errc::unreachable,
                "connecting to " + host + ":" + std::to_string(port) + ": " + last);
}

// The body of a chunked response; nullopt when it is malformed.
std::optional<std::string> unchunk(std::string_view raw) {
    std::string out;
    for (;;) {
        size_t eol = raw.find("\r\n");
        if (eol == std::string_view::npos) {
            return std::nullopt;
        }
        size_t size = 0;
        auto [p, ec] = std::from_chars(raw.data(), raw.data() + eol, size, 16);
        if (ec != std::errc() || raw.size() < eol + 2 + size) {
            return std::nullopt;
        }
        if (size == 0) {
            return out;
        }
        out.append(raw.substr(eol + 2, size));
        raw.remove_prefix(std::min(raw.size(), eol + 2 + size + 2));
    }
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    return out;
}

}  // namespace

Result<HttpResponse> http_exchange(const HttpRequest& req) {
    const auto deadline = Clock::now() + req.timeout;
    auto fd = connect_to(req.host, req.port, deadline);
    if (!fd) {
        return fail(fd.error());
    }
    Fd sock{*fd};
    std::string text = req.method + " " + req.target + " HTTP/1.1\r\nHost: " + req.host + ":" +
                       std::to_string(req.port) + "\r\nConnection: close\r\n";
    for (const auto& [k, v] : req.headers) {
        text += k + ": " + v + "\r\n";
    }
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
        text += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
    }
    text += "\r\n";
    text += req.body;
    std::string_view rest = text;
    while (!rest.empty()) {
        ssize_t w = ::send(sock.fd, rest.data(), rest.size(), MSG_NOSIGNAL);
        if (w > 0) {
            rest.remove_prefix(static_cast<size_t>(w));
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return fail(os::errno_error("sending to " + req.host, errno));
        }
        pollfd p{sock.fd, POLLOUT, 0};
        if (::poll(&p, 1, ms_left(deadline)) == 0) {
            return fail(Errc::timeout, req.host + " does not take the request in time");
        }
    }
    std::string raw;
    for (;;) {
        char buf[16384];
        ssize_t r = ::recv(sock.fd, buf, sizeof buf, 0);
        if (r > 0) {
            raw.append(buf, static_cast<size_t>(r));
            continue;
        }
        if (r == 0) {
            break;
        }
        if (errno != EAGAIN && errno != EINTR) {
            return fail(os::errno_error("reading the answer of " + req.host, errno));
        }
        pollfd p{sock.fd, POLLIN, 0};
        if (::poll(&p, 1, ms_left(deadline)) == 0) {
            return fail(Errc::timeout, req.host + " did not answer in time");
        }
    }
    size_t head_end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || raw.size() < 12) {
        return fail(Errc::io, req.host + " answered something that is not HTTP/1.x");
    }
    HttpResponse out;
    auto [p, ec] = std::from_chars(raw.data() + 9, raw.data() + 12, out.status);
    if (ec != std::errc() || out.status < 100 || out.status > 599) {
        return fail(Errc::io, req.host + " answered with a malformed status line");
    }
    std::string head = lower(std::string_view(raw).substr(0, head_end));
    std::string_view body = std::string_view(raw).substr(head_end + 4);
    if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
        auto whole = unchunk(body);
        if (!whole) {
            return fail(Errc::io, req.host + " sent a malformed chunked body");
        }
        out.body = std::move(*whole);
    } else {
        out.body = std::string(body);
    }
    return out;
}

Result<HttpUrl> parse_http_url(const std::string& url) {
    const std::string scheme = "http://";
    if (url.rfind("https://", 0) == 0) {
        return fail(Errc::invalid_argument,
                    "'" + url +
                        "': https is not supported here (no TLS in the static agent): report "
                        "over http:// to a TLS-terminating proxy on the host's network, or use "
                        "`shipshape agent pull` with a store URI");
    }
    if (url.rfind(scheme, 0) != 0) {
        return fail(Errc::invalid_argument, "'" + url + "': expected http://HOST[:PORT][/PATH]");
    }
    std::string rest = url.substr(scheme.size());
    HttpUrl out;
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (slash != std::string::npos) {
        out.prefix = rest.substr(slash);
        while (!out.prefix.empty() && out.prefix.back() == '/') {
            out.prefix.pop_back();
        }
    }
    if (!authority.empty() && authority.front() == '[') {  // [v6]:port
        size_t close = authority.find(']');
        if (close == std::string::npos) {
            return fail(Errc::invalid_argument, "'" + url + "': unclosed '[' in the address");
        }
        out.host = authority.substr(1, close - 1);
        authority = authority.substr(close + 1);
    } else {
        size_t colon = authority.find(':');
        out.host = authority.substr(0, colon);
        authority = colon == std::string::npos ? std::string() : authority.substr(colon);
    }
    if (!authority.empty()) {
        if (authority.front() != ':' ||
            std::from_chars(authority.data() + 1, authority.data() + authority.size(), out.port)
                    .ptr != authority.data() + authority.size() ||
            out.port < 1 || out.port > 65535) {
            return fail(Errc::invalid_argument, "'" + url + "': the port is not 1-65535");
        }
    }
    if (out.host.empty()) {
        return fail(Errc::invalid_argument, "'" + url + "': no host");
    }
    return out;
}

}  // namespace shipshape::os
