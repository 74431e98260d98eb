// The PostgreSQL store's users and their tokens (see store/store.hpp for the contract). Roles are
// one column (join_roles). A token's last use is committed without waiting for the WAL flush
// (synchronous_commit off for that transaction): losing the stamp loses nothing else.
#include <string>
#include <vector>

#include "store/postgres/pg_db.hpp"

namespace shipshape::store::pg_detail {

namespace {

TokenRecord read_token(const PgResult& q, int row) {
    TokenRecord t;
    t.id = q.text(row, 0);
    t.user = q.text(row, 1);
    t.salt = q.text(row, 2);
    t.hash = q.text(row, 3);
    t.created_at = q.integer(row, 4);
    if (!q.is_null(row, 5)) {
        t.last_used_at = q.integer(row, 5);
    }
    t.revoked = q.text(row, 6) == "t";
    return t;
}

UserRecord read_user(const PgResult& q, int row) {
    return UserRecord{q.text(row, 0), split_roles(q.text(row, 1)), q.integer(row, 2)};
}

}  // namespace

Status PgStore::create_user(const UserRecord& u) {
    // ON CONFLICT tells a taken name apart without parsing an error.
    auto q = exec("adding user " + u.name,
                  "INSERT INTO users(name, roles, created_at) VALUES($1,$2,$3) "
                  "ON CONFLICT (name) DO NOTHING",
                  {u.name, join_roles(u.roles), num(u.created_at)});
    if (!q) {
        return fail(q.error());
    }
    if (q->affected() == 0) {
        return fail(Errc::already_exists, "user '" + u.name + "' already exists");
    }
    return {};
}

Result<UserRecord> PgStore::get_user(std::string_view name) {
    auto q = exec("reading user " + std::string(name),
                  "SELECT name, roles, created_at FROM users WHERE name = $1", {name});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return fail(Errc::not_found, "no user '" + std::string(name) + "'");
    }
    return read_user(*q, 0);
}

Result<std::vector<UserRecord>> PgStore::list_users() {
    auto q = exec("listing users", "SELECT name, roles, created_at FROM users ORDER BY name");
    if (!q) {
        return fail(q.error());
    }
    std::vector<UserRecord> out;
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(read_user(*q, i));
    }
    return out;
}

Status PgStore::set_roles(std::string_view name, const std::vector<std::string>& roles) {
    auto q = exec("setting the roles of " + std::string(name),
                  "UPDATE users SET roles = $1 WHERE name = $2", {join_roles(roles), name});
    if (!q) {
        return fail(q.error());
    }
    if (q->affected() == 0) {
        return fail(Errc::not_found, "no user '" + std::string(name) + "'");
    }
    return {};
}

Status PgStore::add_token(const TokenRecord& t) {
    // One statement: the user must exist, and a taken id inserts nothing.
    auto q = exec("adding a token for " + t.user,
                  "INSERT INTO tokens(id, \"user\", salt, hash, created_at, last_used_at, revoked) "
                  "SELECT $1, name, $3, $4, $5, NULLIF($6::BIGINT, -1), $7::BOOLEAN FROM users "
                  "WHERE name = $2 ON CONFLICT (id) DO NOTHING RETURNING id",
                  {t.id, t.user, t.salt, t.hash, num(t.created_at),
                   num(t.last_used_at.value_or(-1)), t.revoked ? "true" : "false"});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 1) {
        return {};
    }
    auto user = get_user(t.user);
    if (!user) {
        return fail(user.error());
    }
    return fail(Errc::already_exists, "token id '" + t.id + "' already exists");
}

Result<TokenRecord> PgStore::get_token(std::string_view id) {
    auto q = exec("reading a token",
                  "SELECT id, \"user\", salt, hash, created_at, last_used_at, revoked FROM tokens "
                  "WHERE id = $1",
                  {id});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return fail(Errc::not_found, "no token '" + std::string(id) + "'");
    }
    return read_token(*q, 0);
}

Result<std::vector<TokenRecord>> PgStore::list_tokens(std::string_view user) {
    auto q = exec("listing the tokens of " + std::string(user),
                  "SELECT id, \"user\", salt, hash, created_at, last_used_at, revoked FROM tokens "
                  "WHERE \"user\" = $1 ORDER BY created_at, id",
                  {user});
    if (!q) {
        return fail(q.error());
    }
    std::vector<TokenRecord> out;
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(read_token(*q, i));
    }
    return out;
}

Status PgStore::touch_token(std::string_view id, int64_t at) {
    return transaction("stamping a token's use", [&]() -> Status {
        if (auto st = exec("stamping a token's use", "SET LOCAL synchronous_commit = off"); !st) {
            return fail(st.error());
        }
        auto q = exec("stamping a token's use", "UPDATE tokens SET last_used_at = $1 WHERE id = $2",
                      {num(at), id});
        if (!q) {
            return fail(q.error());
        }
        return {};
    });
}

Result<int64_t> PgStore::revoke_tokens(std::string_view user) {
    return transaction("revoking the tokens of " + std::string(user), [&]() -> Result<int64_t> {
        if (auto u = get_user(user); !u) {
            return fail(u.error());
        }
        auto q =
            exec("revoking the tokens of " + std::string(user),
                 "UPDATE tokens SET revoked = TRUE WHERE \"user\" = $1 AND NOT revoked", {user});
        if (!q) {
            return fail(q.error());
        }
        return q->affected();
    });
}

}  // namespace shipshape::store::pg_detail
