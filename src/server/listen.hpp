// Where `shipshape serve` listens, and the systemd unit that runs it as a service. Pure
// functions: no sockets, no files, no globals (the HTTP side is in http.hpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape::server {

struct ListenAddress {
    std::string host;  // "127.0.0.1", "::1", "0.0.0.0", a name such as "localhost"
    int port = 0;      // 0: the kernel picks a free port
    bool loopback = false;

    // "SCHEME://HOST:PORT" with IPv6 addresses in brackets, for `port` (the bound one).
    std::string url(int bound_port, std::string_view scheme = "http") const;
    // "HOST:PORT" as --listen takes it.
    std::string text() const;
};

inline constexpr std::string_view k_default_listen = "127.0.0.1:8686";

// Parses "HOST:PORT" or "[IPV6]:PORT" (port 0-65535; 0 picks a free one). `loopback` is true
// for 127.0.0.0/8, ::1 and "localhost". Errc::invalid_argument saying what is wrong.
[[nodiscard]] Result<ListenAddress> parse_listen(std::string_view text);

struct UnitOptions {
    std::string binary;                 // absolute path of shipshape
    std::string project_dir;            // absolute path of the ops repo
    std::vector<std::string> writable;  // absolute directories the service writes (the store's)
    std::string listen;                 // as --listen takes it
    std::string tls_cert;               // absolute, or empty for plain HTTP
    std::string tls_key;
};

// A systemd service unit running `shipshape -C DIR serve --listen ADDR`, restarted on failure
// and confined (no new privileges, the file system read-only but for `writable`, private /tmp
// and devices). Errc::invalid_argument when a path is not absolute or holds a control character
// (systemd unit lines cannot carry one).
[[nodiscard]] Result<std::string> systemd_unit(const UnitOptions& options);

}  // namespace shipshape::server
