// The SQLite store's users and their tokens (see store/store.hpp for the contract). Roles are one
// column (join_roles); a token's last use is written with synchronous=NORMAL, as losing the
// stamp to a power cut loses nothing else.
#include <string>
#include <vector>

#include "store/sqlite/sqlite_db.hpp"

namespace shipshape::store::sqlite_detail {

namespace {

constexpr const char* k_token_columns =
    "SELECT id, user, salt, hash, created_at, last_used_at, revoked FROM tokens ";

TokenRecord read_token(const Statement& q) {
    TokenRecord t;
    t.id = q.text(0);
    t.user = q.text(1);
    t.salt = q.text(2);
    t.hash = q.text(3);
    t.created_at = q.integer(4);
    if (!q.is_null(5)) {
        t.last_used_at = q.integer(5);
    }
    t.revoked = q.integer(6) != 0;
    return t;
}

}  // namespace

Status SqliteStore::create_user(const UserRecord& u) {
    return transaction("adding user " + u.name, [&]() -> Status {
        Statement q(*m_cache, "INSERT INTO users(name, roles, created_at) VALUES(?,?,?)");
        q.bind(1, u.name).bind(2, join_roles(u.roles)).bind(3, u.created_at);
        const int rc = q.step();
        if (rc == SQLITE_CONSTRAINT) {
            return fail(Errc::already_exists, "user '" + u.name + "' already exists");
        }
        if (rc != SQLITE_DONE) {
            return db_error("adding user " + u.name);
        }
        return {};
    });
}

Result<UserRecord> SqliteStore::get_user(std::string_view name) {
    Statement q(*m_cache, "SELECT name, roles, created_at FROM users WHERE name = ?");
    q.bind(1, name);
    const int rc = q.step();
    if (rc == SQLITE_DONE) {
        return fail(Errc::not_found, "no user '" + std::string(name) + "'");
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading user " + std::string(name));
    }
    return UserRecord{q.text(0), split_roles(q.text(1)), q.integer(2)};
}

Result<std::vector<UserRecord>> SqliteStore::list_users() {
    Statement q(*m_cache, "SELECT name, roles, created_at FROM users ORDER BY name");
    std::vector<UserRecord> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(UserRecord{q.text(0), split_roles(q.text(1)), q.integer(2)});
    }
    if (rc != SQLITE_DONE) {
        return db_error("listing users");
    }
    return out;
}

Status SqliteStore::set_roles(std::string_view name, const std::vector<std::string>& roles) {
    return transaction("setting the roles of " + std::string(name), [&]() -> Status {
        Statement q(*m_cache, "UPDATE users SET roles = ? WHERE name = ?");
        q.bind(1, join_roles(roles)).bind(2, name);
        if (q.step() != SQLITE_DONE) {
            return db_error("setting the roles of " + std::string(name));
        }
        if (sqlite3_changes(m_db) == 0) {
            return fail(Errc::not_found, "no user '" + std::string(name) + "'");
        }
        return {};
    });
}

Status SqliteStore::add_token(const TokenRecord& t) {
    return transaction("adding a token for " + t.user, [&]() -> Status {
        Statement u(*m_cache, "SELECT 1 FROM users WHERE name = ?");
        u.bind(1, t.user);
        const int found = u.step();
        if (found == SQLITE_DONE) {
            return fail(Errc::not_found, "no user '" + t.user + "'");
        }
        if (found != SQLITE_ROW) {
            return db_error("adding a token for " + t.user);
        }
        Statement q(*m_cache,
                    "INSERT INTO tokens(id, user, salt, hash, created_at, last_used_at, revoked) "
                    "VALUES(?,?,?,?,?,NULLIF(?,-1),?)");
        q.bind(1, t.id).bind(2, t.user).bind(3, t.salt).bind(4, t.hash).bind(5, t.created_at);
        q.bind(6, t.last_used_at.value_or(-1)).bind(7, int64_t{t.revoked ? 1 : 0});
        const int rc = q.step();
        if (rc == SQLITE_CONSTRAINT) {
            return fail(Errc::already_exists, "token id '" + t.id + "' already exists");
        }
        if (rc != SQLITE_DONE) {
            return db_error("adding a token for " + t.user);
        }
        return {};
    });
}

Result<TokenRecord> SqliteStore::get_token(std::string_view id) {
    Statement q(*m_cache, std::string(k_token_columns) + "WHERE id = ?");
    q.bind(1, id);
    const int rc = q.step();
    if (rc == SQLITE_DONE) {
        return fail(Errc::not_found, "no token '" + std::string(id) + "'");
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading a token");
    }
    return read_token(q);
}

Result<std::vector<TokenRecord>> SqliteStore::list_tokens(std::string_view user) {
    Statement q(*m_cache, std::string(k_token_columns) + "WHERE user = ? ORDER BY created_at, id");
    q.bind(1, user);
    std::vector<TokenRecord> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(read_token(q));
    }
    if (rc != SQLITE_DONE) {
        return db_error("listing the tokens of " + std::string(user));
    }
    return out;
}

Status SqliteStore::touch_token(std::string_view id, int64_t at) {
    if (auto st = exec("PRAGMA synchronous=NORMAL", "relaxing sync"); !st) {
        return st;
    }
    auto r = transaction("stamping a token's use", [&]() -> Status {
        Statement q(*m_cache, "UPDATE tokens SET last_used_at = ? WHERE id = ?");
        q.bind(1, at).bind(2, id);
        if (q.step() != SQLITE_DONE) {
            return db_error("stamping a token's use");
        }
        return {};
    });
    if (auto st = exec("PRAGMA synchronous=FULL", "restoring sync"); !st) {
        return st;
    }
    return r;
}

Result<int64_t> SqliteStore::revoke_tokens(std::string_view user) {
    return transaction("revoking the tokens of " + std::string(user), [&]() -> Result<int64_t> {
        Statement u(*m_cache, "SELECT 1 FROM users WHERE name = ?");
        u.bind(1, user);
        const int found = u.step();
        if (found == SQLITE_DONE) {
            return fail(Errc::not_found, "no user '" + std::string(user) + "'");
        }
        if (found != SQLITE_ROW) {
            return db_error("revoking the tokens of " + std::string(user));
        }
        Statement q(*m_cache, "UPDATE tokens SET revoked = 1 WHERE user = ? AND revoked = 0");
        q.bind(1, user);
        if (q.step() != SQLITE_DONE) {
            return db_error("revoking the tokens of " + std::string(user));
        }
        return static_cast<int64_t>(sqlite3_changes(m_db));
    });
}

}  // namespace shipshape::store::sqlite_detail
