// Users, their roles and their access tokens: the use cases behind `shipshape user` and the
// server's Bearer authentication. Who may write through the server or a shared store is decided
// here; the store keeps only what this module gives it.
//
// A token is "ssp_<id>_<secret>": <id> is 16 hex digits (8 random bytes) naming the token's
// record, <secret> 64 hex digits (32 random bytes, from OpenSSL's RAND_bytes, which the OS
// seeds). Only a 16-byte random salt and SHA-256(salt || secret) are stored. A slow password
// hash (bcrypt, scrypt, Argon2) exists to make guessing a low-entropy password costly; a 256-bit
// random secret cannot be guessed at any speed, so one SHA-256 is enough and keeps every
// authenticated request cheap. The hash is compared in constant time (CRYPTO_memcmp).
//
// Threading: a UserService is used from one thread at a time, like the store it wraps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

namespace shipshape::app {

// A user or role name: 1 to 64 characters of A-Z a-z 0-9 . _ -. Errc::invalid_argument saying
// what is wrong, naming `what` ("user name", "role").
[[nodiscard]] Status check_name(std::string_view name, std::string_view what);

// "qa,dev" -> {"dev", "qa"}: sorted, duplicates dropped, each checked with check_name. An
// empty list is no roles. Errc::invalid_argument for an empty element ("qa,,dev") or a bad name.
[[nodiscard]] Result<std::vector<std::string>> parse_roles(std::string_view list);

struct TokenParts {
    std::string id;
    std::string secret;
};

// Splits a token into its parts; nullopt unless it has exactly the form above (lower-case hex).
std::optional<TokenParts> parse_token(std::string_view token);

// Who a valid token belongs to.
struct Identity {
    std::string user;
    std::vector<std::string> roles;
    bool has_role(std::string_view role) const;
};

struct UserSummary {
    store::UserRecord user;
    int active_tokens = 0;                // not revoked
    std::optional<int64_t> last_used_at;  // the newest use of any of its tokens
};

class UserService {
  public:
    explicit UserService(store::UserStore& store, const Clock& clock = system_clock());

    // Errc::invalid_argument for a bad name or role, Errc::already_exists for a taken name.
    [[nodiscard]] Status add_user(const std::string& name, const std::vector<std::string>& roles);
    // Errc::invalid_argument for a bad role, Errc::not_found for an unknown user.
    [[nodiscard]] Status set_roles(const std::string& name, const std::vector<std::string>& roles);
    // Makes and stores a new token for `name` and returns it: the only time it is ever seen.
    // Errc::not_found for an unknown user, Errc::internal when no random bytes can be had.
    [[nodiscard]] Result<std::string> issue_token(const std::string& name);
    // Revokes every token of `name`; returns how many were revoked. Errc::not_found.
    [[nodiscard]] Result<int64_t> revoke(const std::string& name);
    // Every user, by name, with counts of their tokens (never token material).
    [[nodiscard]] Result<std::vector<UserSummary>> list();
    // The identity `token` proves, stamping the token's last use. Errc::permission_denied when
    // the token is malformed, unknown, revoked or wrong (one message for all: "the token is not
    // valid ..."); Errc::store when the store fails.
    [[nodiscard]] Result<Identity> authenticate(std::string_view token);

  private:
    int64_t now_ms() const;

    store::UserStore& m_store;
    const Clock& m_clock;
};

}  // namespace shipshape::app
