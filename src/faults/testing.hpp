// Helpers for tests that use a fault sandbox (GoogleTest or not): find a fault's outcome in a
// report, and the checks most fault tests make — "this replace failed with ENOSPC and the old
// file is intact", "this call succeeded within N retries". No GoogleTest dependency, so any
// test framework can use them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "faults/sandbox.hpp"

namespace shipshape::faults::testing {

// The first outcome of `kind` in `report`, or nullptr.
const FaultOutcome* outcome(const Report& report, FaultKind kind);
// A named count of an outcome ("packets_dropped"), 0 when absent.
uint64_t count(const FaultOutcome& outcome, std::string_view name);

struct ReplaceAttempt {
    int error = 0;              // errno of the first step that failed, 0 when it all worked
    std::string failed_step;    // "write", "fsync", "rename", …
    std::string content_after;  // what `path` holds afterwards
};

// Replaces `path` the safe way (write a temporary, fsync it, rename it over, fsync the
// directory), removing the temporary on failure, and reports what happened.
ReplaceAttempt atomic_replace(const std::string& path, const std::string& content);

// Calls `attempt` until it returns true, at most `max_attempts` times; returns the number of
// calls that took, or 0 when every one failed.
int retry(int max_attempts, const std::function<bool()>& attempt);

// A TCP listener on 127.0.0.1 (the kernel completes handshakes into its backlog, so nobody
// needs to accept), for tests of blocked ports. Returns the listening fd (or -1); `port`
// receives the bound port.
int listen_loopback(uint16_t& port);
// connect() to 127.0.0.1:port with a timeout; returns 0 or the errno (ETIMEDOUT on timeout).
int connect_loopback(uint16_t port, int timeout_ms);

}  // namespace shipshape::faults::testing
