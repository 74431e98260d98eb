// shipshape::Error and Result<T>: the one way library code reports failures that come from
// outside the program (bad input, the OS, the store). Bugs are not errors: they abort through
// SHIPSHAPE_ASSERT. An Error is a closed code plus a message that leads with context, e.g.
// "reading '/etc/os-release': permission denied"; callers add context with `context()`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace shipshape {

enum class Errc {
    invalid_argument,    // the caller or user asked for something malformed
    invalid_definition,  // an ops-repo file failed validation
    not_found,
    already_exists,
    conflict,  // e.g. another run holds the environment lock
    permission_denied,
    unsupported,  // this machine lacks a privilege, tool or kernel feature
    io,
    store,  // the state store failed
    timeout,
    unreachable,  // a remote host could not be reached (ssh's reason in the message)
    interrupted,
    internal,
};

// Returns a stable lower-case name for `code`, used in JSON output.
std::string_view errc_name(Errc code);
// The inverse of errc_name; nullopt for a name that is not one.
std::optional<Errc> parse_errc_name(std::string_view name);

class Error {
  public:
    Error(Errc code, std::string message) : m_code(code), m_message(std::move(message)) {}

    Errc code() const { return m_code; }
    const std::string& message() const { return m_message; }

    // Returns a copy whose message is "<what>: <original message>".
    Error context(std::string_view what) const {
        return Error(m_code, std::string(what) + ": " + m_message);
    }

  private:
    Errc m_code;
    std::string m_message;
};

template <typename T>
using Result = tl::expected<T, Error>;

using Status = Result<void>;

inline tl::unexpected<Error> fail(Errc code, std::string message) {
    return tl::unexpected<Error>(Error(code, std::move(message)));
}

inline tl::unexpected<Error> fail(Error error) {
    return tl::unexpected<Error>(std::move(error));
}

}  // namespace shipshape
