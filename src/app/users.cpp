#include "app/users.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "core/text.hpp"
#include "core/wall_ms.hpp"

namespace shipshape::app {

namespace {

constexpr size_t k_max_name = 64;
constexpr std::string_view k_token_prefix = "ssp_";
constexpr size_t k_id_bytes = 8;
constexpr size_t k_secret_bytes = 32;
constexpr size_t k_salt_bytes = 16;

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool is_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<std::string> random_hex(size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
        return fail(Errc::internal, "no random bytes to be had from OpenSSL (RAND_bytes failed)");
    }
    return to_hex(buf);
}

// Lower-case hex SHA-256 of salt || secret, or "" when OpenSSL fails (which compares unequal
// to every stored hash).
std::string token_hash(std::string_view salt, std::string_view secret) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx, salt.data(), salt.size()) == 1 &&
                    EVP_DigestUpdate(ctx, secret.data(), secret.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx, digest.data(), &size) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return "";
    }
    return to_hex(std::span<const unsigned char>(digest.data(), size));
}

Error invalid_token() {
    return Error(Errc::permission_denied,
                 "the token is not valid (unknown, revoked or mistyped; 'shipshape user token "
                 "NAME' makes a new one)");
}

}  // namespace

Status check_name(std::string_view name, std::string_view what) {
    if (name.empty() || name.size() > k_max_name) {
        return fail(Errc::invalid_argument, std::string(what) + " '" + escape_control(name) +
                                                "' must be 1 to 64 characters long");
    }
    auto bad = std::find_if(name.begin(), name.end(), [](char c) { return !is_name_char(c); });
    if (bad != name.end()) {
        return fail(Errc::invalid_argument,
                    std::string(what) + " '" + escape_control(name) +
                        "' may hold only letters, digits, '.', '_' and '-' (character " +
                        std::to_string(bad - name.begin() + 1) + " is not one)");
    }
    return {};
}

Result<std::vector<std::string>> parse_roles(std::string_view list) {
    std::vector<std::string> out;
    if (list.empty()) {
        return out;
    }
    while (true) {
        size_t comma = list.find(',');
        std::string_view role = list.substr(0, comma);
        if (role.empty()) {
            return fail(Errc::invalid_argument,
                        "the role list has an empty role (roles are separated by single commas, "
                        "e.g. qa,dev)");
        }
        if (auto st = check_name(role, "role"); !st) {
            return fail(st.error());
        }
        out.emplace_back(role);
        if (comma == std::string_view::npos) {
            break;
        }
        list = list.substr(comma + 1);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::optional<TokenParts> parse_token(std::string_view token) {
    constexpr size_t k_id_len = 2 * k_id_bytes;
    constexpr size_t k_secret_len = 2 * k_secret_bytes;
    if (token.size() != k_token_prefix.size() + k_id_len + 1 + k_secret_len ||
        !token.starts_with(k_token_prefix)) {
        return std::nullopt;
    }
    std::string_view id = token.substr(k_token_prefix.size(), k_id_len);
    std::string_view sep = token.substr(k_token_prefix.size() + k_id_len, 1);
    std::string_view secret = token.substr(k_token_prefix.size() + k_id_len + 1);
    if (sep != "_" || !is_lower_hex(id) || !is_lower_hex(secret)) {
        return std::nullopt;
    }
    return TokenParts{std::string(id), std::string(secret)};
}

bool Identity::has_role(std::string_view role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
}

UserService::UserService(store::UserStore& store, const Clock& clock)
    : m_store(store), m_clock(clock) {}

int64_t UserService::now_ms() const {
    return wall_ms(m_clock);
}

Status UserService::add_user(const std::string& name, const std::vector<std::string>& roles) {
    if (auto st = check_name(name, "user name"); !st) {
        return st;
    }
    for (const auto& r : roles) {
        if (auto st = check_name(r, "role"); !st) {
            return st;
        }
    }
    std::vector<std::string> sorted = roles;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    return m_store.create_user(store::UserRecord{name, sorted, now_ms()});
}

Status UserService::set_roles(const std::string& name, const std::vector<std::string>& roles) {
    for (const auto& r : roles) {
        if (auto st = check_name(r, "role"); !st) {
            return st;
        }
    }
    std::vector<std::string> sorted = roles;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    return m_store.set_roles(name, sorted);
}

Result<std::string> UserService::issue_token(const std::string& name) {
    auto id = random_hex(k_id_bytes);
    auto secret = random_hex(k_secret_bytes);
    auto salt = random_hex(k_salt_bytes);
    if (!id || !secret || !salt) {
        return fail(!id ? id.error() : !secret ? secret.error() : salt.error());
    }
    std::string hash = token_hash(*salt, *secret);
    if (hash.empty()) {
        return fail(Errc::internal, "OpenSSL could not compute SHA-256");
    }
    store::TokenRecord record{*id, name, *salt, hash, now_ms(), std::nullopt, false};
    if (auto st = m_store.add_token(record); !st) {
        return fail(st.error());
    }
    return std::string(k_token_prefix) + *id + "_" + *secret;
}

Result<int64_t> UserService::revoke(const std::string& name) {
    return m_store.revoke_tokens(name);
}

Result<std::vector<UserSummary>> UserService::list() {
    auto users = m_store.list_users();
    if (!users) {
        return fail(users.error());
    }
    std::vector<UserSummary> out;
    for (auto& u : *users) {
        auto tokens = m_store.list_tokens(u.name);
        if (!tokens) {
            return fail(tokens.error());
        }
        UserSummary s{std::move(u), 0, std::nullopt};
        for (const auto& t : *tokens) {
            s.active_tokens += t.revoked ? 0 : 1;
            if (t.last_used_at && (!s.last_used_at || *t.last_used_at > *s.last_used_at)) {
                s.last_used_at = t.last_used_at;
            }
        }
        out.push_back(std::move(s));
    }
    return out;
}

Result<Identity> UserService::authenticate(std::string_view token) {
    auto parts = parse_token(token);
    if (!parts) {
        return tl::unexpected(invalid_token());
    }
    auto record = m_store.get_token(parts->id);
    if (!record) {
        if (record.error().code() == Errc::not_found) {
            return tl::unexpected(invalid_token());
        }
        return fail(record.error());
    }
    const std::string hash = token_hash(record->salt, parts->secret);
    // The lengths are public (both are SHA-256 in hex); the bytes are compared in constant time.
    const bool match = !hash.empty() && hash.size() == record->hash.size() &&
                       CRYPTO_memcmp(hash.data(), record->hash.data(), hash.size()) == 0;
    if (!match || record->revoked) {
        return tl::unexpected(invalid_token());
    }
    auto user = m_store.get_user(record->user);
    if (!user) {
        return fail(user.error());
    }
    // Best effort: a stamp that cannot be written (a read-only store) refuses no one.
    (void)m_store.touch_token(record->id, now_ms());
    return Identity{user->name, user->roles};
}

}  // namespace shipshape::app
