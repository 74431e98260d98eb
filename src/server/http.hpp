// The HTTP side of `shipshape serve`: cpp-httplib (only in http_httplib.cpp) decodes requests
// and hands them to an Api. Limits: request bodies over k_max_body bytes are refused (413), a
// client that sends nothing for k_read_timeout_s seconds is dropped, request lines over 8 KiB
// are refused (414). The event stream (text/event-stream) aside, every response is JSON
// (application/json; charset=utf-8) with X-Content-Type-Options: nosniff.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "os/process.hpp"
#include "server/api.hpp"
#include "server/events.hpp"
#include "server/listen.hpp"

namespace shipshape::server {

inline constexpr size_t k_max_body = 1024 * 1024;
inline constexpr int k_read_timeout_s = 5;

// A PEM certificate (chain) and its unencrypted private key, for HTTPS.
struct TlsFiles {
    std::string cert;
    std::string key;
};

// The live event stream (events.hpp), when the server has one: GET /api/v1/events streams from
// `hub`, reading what a resuming client missed from `backlog`.
struct LiveEvents {
    EventHub& hub;
    Backlog& backlog;
};

// Binds `where` (port 0: a free port), calls `on_listening` with the bound URL, and serves
// until `stop` is cancelled; then finishes the requests in progress and returns. With `tls`,
// serves HTTPS only (OpenSSL through cpp-httplib). Errc::invalid_argument when the certificate
// or key cannot be loaded; Errc::io when the address cannot be bound (in use, or not an
// address of this machine).
[[nodiscard]] Status serve_http(Api& api, const ListenAddress& where,
                                const std::optional<TlsFiles>& tls, const os::CancelSource& stop,
                                const std::function<void(const std::string&)>& on_listening,
                                const LiveEvents* events = nullptr);

}  // namespace shipshape::server
