// A minimal HTTP/1.1 client over plain TCP: one request per connection ("Connection: close"),
// for what the static agent sends (pull reports). Hand-written rather than cpp-httplib, which
// Debian ships only as a shared library built with OpenSSL, zlib and brotli: the static
// agent cannot link it. No TLS (see docs/agent.md), no redirects, no keep-alive.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/duration.hpp"
#include "core/error.hpp"

namespace shipshape::os {

struct HttpRequest {
    std::string method = "GET";
    std::string host;  // a name (resolved with getaddrinfo) or an address
    int port = 80;
    std::string target = "/";  // the path and query
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    Millis timeout{10000};  // for the whole exchange
};

struct HttpResponse {
    int status = 0;
    std::string body;
};

// Sends the request and reads the whole response (Content-Length, chunked, or to the end of
// the connection). Errc::unreachable when the host cannot be resolved or connected to,
// Errc::timeout, Errc::io for a broken or malformed response.
[[nodiscard]] Result<HttpResponse> http_exchange(const HttpRequest& request);

// Splits "http://HOST[:PORT][/PREFIX]" into host, port and prefix (without a trailing '/').
// Errc::invalid_argument naming what is wrong (https:// included: no TLS here).
struct HttpUrl {
    std::string host;
    int port = 80;
    std::string prefix;
};
[[nodiscard]] Result<HttpUrl> parse_http_url(const std::string& url);

}  // namespace shipshape::os
