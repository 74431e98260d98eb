// Bearer authentication for the API's writes and GET /api/v1/me: reading the Authorization
// header, and the per-address limit on failed authentications. Reads stay anonymous
// (docs/specs/api.md says why); tokens themselves are checked by app::UserService.
//
// FailureLimiter is thread-safe (one mutex) and bounded: it remembers at most `max_failures`
// stamps for at most `max_addresses` addresses. When that many addresses have failed recently,
// the one whose last failure is oldest is forgotten first -- an attacker with more addresses
// than that can wear the memory down, but each address still gets only `max_failures` guesses
// per window, and a token's 256-bit secret cannot be guessed anyway: the limit is against noise
// and brute force of leaked-but-truncated tokens, not the only defence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/api.hpp"

namespace shipshape::server {

// The value of the first header called `name` (case-insensitive), or nullopt.
std::optional<std::string_view> header_value(const Request& request, std::string_view name);

// How many headers called `name` (case-insensitive) the request carries.
size_t header_count(const Request& request, std::string_view name);

// The token of an Authorization header value "Bearer TOKEN": the scheme case-insensitive, one
// or more spaces, then a token68 (RFC 7235: A-Z a-z 0-9 - . _ ~ + / and trailing '='), nothing
// after it. nullopt for another scheme or a malformed value.
std::optional<std::string> parse_bearer(std::string_view value);

struct FailureLimits {
    int max_failures = 10;
    int64_t window_ms = 60'000;
    size_t max_addresses = 10'000;
};

class FailureLimiter {
  public:
    explicit FailureLimiter(FailureLimits limits = {});

    // 0 when `address` may try to authenticate at `now_ms`; else how many seconds (at least 1)
    // until its oldest counted failure leaves the window.
    int64_t retry_after_s(const std::string& address, int64_t now_ms);
    // Counts one failed authentication from `address` at `now_ms`.
    void record_failure(const std::string& address, int64_t now_ms);
    // How many addresses it currently remembers (for tests of the bound).
    size_t tracked() const;

  private:
    // Drops the stamps of `stamps` that left the window.
    void prune(std::deque<int64_t>& stamps, int64_t now_ms) const;

    FailureLimits m_limits;
    mutable std::mutex m_mutex;
    std::unordered_map<std::string, std::deque<int64_t>> m_failures;
};

}  // namespace shipshape::server
