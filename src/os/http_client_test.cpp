// os::http_exchange against a real listening socket on loopback (one thread plays the server),
// and parse_http_url's table.
#include "os/http_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace shipshape::os {
namespace {

// Accepts one connection, reads the request up to its end (headers + Content-Length body),
// answers `answer` and closes.
class OneShotServer {
  public:
    explicit OneShotServer(std::string answer) : m_answer(std::move(answer)) {
        m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(m_fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        socklen_t len = sizeof a;
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&a), &len);
        m_port = ntohs(a.sin_port);
        ::listen(m_fd, 1);
        m_thread = std::thread([this] { serve(); });
    }
    ~OneShotServer() {
        m_thread.join();
        ::close(m_fd);
    }
    int port() const { return m_port; }
    const std::string& request() const { return m_request; }

  private:
    void serve() {
        int c = ::accept(m_fd, nullptr, nullptr);
        char buf[4096];
        for (;;) {
            size_t head = m_request.find("\r\n\r\n");
            if (head != std::string::npos) {
                size_t cl = m_request.find("Content-Length: ");
                size_t want = cl == std::string::npos ? 0 : std::stoul(m_request.substr(cl + 16));
                if (m_request.size() >= head + 4 + want) {
                    break;
                }
            }
            ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            m_request.append(buf, static_cast<size_t>(n));
        }
        (void)::write(c, m_answer.data(), m_answer.size());
        ::close(c);
    }

    std::string m_answer;
    std::string m_request;
    int m_fd = -1;
    int m_port = 0;
    std::thread m_thread;
};

TEST(HttpClient, PostsAndReadsAContentLengthAnswer) {
    OneShotServer server("HTTP/1.1 201 Created\r\nContent-Length: 14\r\n\r\n{\"stored\":true}");
    HttpRequest req;
    req.method = "POST";
    req.host = "127.0.0.1";
    req.port = server.port();
    req.target = "/api/v1/hosts/web-1/reports";
    req.headers = {{"Authorization", "Bearer t"}};
    req.body = "{\"a\":1}";
    auto r = http_exchange(req);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "{\"stored\":true}");
    EXPECT_NE(server.request().find("POST /api/v1/hosts/web-1/reports HTTP/1.1\r\n"),
              std::string::npos);
    EXPECT_NE(server.request().find("Authorization: Bearer t\r\n"), std::string::npos);
    EXPECT_NE(server.request().find("Content-Length: 7\r\n\r\n{\"a\":1}"), std::string::npos);
}

TEST(HttpClient, DecodesAChunkedAnswer) {
    OneShotServer server(
        "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: "
        "chunked\r\n\r\n4\r\n{\"er\r\n6\r\nror\":1\r\n1\r\n}"
        "\r\n0\r\n\r\n");
    HttpRequest req;
    req.host = "127.0.0.1";
    req.port = server.port();
    auto r = http_exchange(req);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->body, "{\"error\":1}");
}

TEST(HttpClient, RefusesAnAnswerThatIsNotHttp) {
    OneShotServer server("SSH-2.0-OpenSSH_9.2\r\n");
    HttpRequest req;
    req.host = "127.0.0.1";
    req.port = server.port();
    auto r = http_exchange(req);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io);
}

TEST(HttpClient, AClosedPortIsUnreachable) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);  // a port nobody listens on
    HttpRequest req;
    req.host = "127.0.0.1";
    req.port = ntohs(a.sin_port);
    auto r = http_exchange(req);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unreachable);
}

TEST(HttpUrl, SplitsHostPortAndPrefix) {
    struct Row {
        const char* url;
        const char* host;
        int port;
        const char* prefix;
    };
    // Each row: a form of URL --report takes, and its parts.
    const Row rows[] = {
        {"http://ops.example", "ops.example", 80, ""},              // default port
        {"http://10.0.0.5:8080", "10.0.0.5", 8080, ""},             // address and port
        {"http://ops:8080/shipshape/", "ops", 8080, "/shipshape"},  // prefix, trailing / cut
        {"http://[::1]:9000", "::1", 9000, ""},                     // IPv6 literal
    };
    for (const auto& row : rows) {
        auto u = parse_http_url(row.url);
        ASSERT_TRUE(u) << row.url << ": " << u.error().message();
        EXPECT_EQ(u->host, row.host) << row.url;
        EXPECT_EQ(u->port, row.port) << row.url;
        EXPECT_EQ(u->prefix, row.prefix) << row.url;
    }
    // Each: refused with Errc::invalid_argument.
    for (const char* bad : {"https://ops", "ftp://ops", "ops:8080", "http://", "http://ops:0",
                            "http://ops:99999", "http://ops:80x", "http://[::1"}) {
        auto u = parse_http_url(bad);
        ASSERT_FALSE(u) << bad;
        EXPECT_EQ(u.error().code(), Errc::invalid_argument) << bad;
    }
}

}  // namespace
}  // namespace shipshape::os
