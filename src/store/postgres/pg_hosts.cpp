// The PostgreSQL store's host data (facts snapshots, state reports, the parameters of each host's
// last apply) and environment locks. See store/store.hpp for the contracts.
//
// An environment lock is a row of env_locks. Of two acquirers (on any machines) exactly one
// wins: the row is inserted with ON CONFLICT DO NOTHING, so a second inserter waits for the
// first's transaction and then finds its row; an existing row is read FOR UPDATE, so a takeover
// of a stale holder and a concurrent acquire take turns and the second sees the first's row.
#include <optional>
#include <string>

#include "store/audit.hpp"
#include "store/postgres/pg_db.hpp"

namespace shipshape::store::pg_detail {

namespace {

FactsSnapshot read_snapshot(const PgResult& q, int row) {
    return FactsSnapshot{q.integer(row, 0), q.text(row, 1), q.integer(row, 2), q.text(row, 3),
                         q.text(row, 4)};
}

}  // namespace

Result<int64_t> PgStore::save_facts(const FactsSnapshot& f) {
    auto q = exec("saving facts of " + f.host,
                  "INSERT INTO facts_snapshots(host, at, hash, document) VALUES($1,$2,$3,$4) "
                  "RETURNING id",
                  {f.host, num(f.at), f.hash, f.document});
    if (!q) {
        return fail(q.error());
    }
    return q->integer(0, 0);
}

Result<FactsSnapshot> PgStore::get_facts(int64_t id) {
    auto q =
        exec("reading facts snapshot",
             "SELECT id, host, at, hash, document FROM facts_snapshots WHERE id = $1", {num(id)});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return fail(Errc::not_found, "no saved facts snapshot @" + std::to_string(id) +
                                         " (see 'shipshape facts --list')");
    }
    return read_snapshot(*q, 0);
}

Result<std::vector<FactsSnapshot>> PgStore::list_facts(std::string_view host, int limit) {
    return list_snapshots("listing facts snapshots",
                          "SELECT id, host, at, hash, '' FROM facts_snapshots WHERE $1 = '' OR "
                          "host = $1 ORDER BY at DESC, id DESC LIMIT $2",
                          host, limit);
}

Result<std::vector<FactsSnapshot>> PgStore::list_snapshots(const char* what, const char* sql,
                                                           std::string_view host, int limit) {
    auto q = exec(what, sql, {host, num(limit)});
    if (!q) {
        return fail(q.error());
    }
    std::vector<FactsSnapshot> out;
    out.reserve(static_cast<size_t>(q->rows()));
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(read_snapshot(*q, i));
    }
    return out;
}

Result<int64_t> PgStore::save_host_state(const FactsSnapshot& f) {
    auto q = exec("saving the state report of " + f.host,
                  "INSERT INTO host_states(host, at, hash, document) VALUES($1,$2,$3,$4) "
                  "RETURNING id",
                  {f.host, num(f.at), f.hash, f.document});
    if (!q) {
        return fail(q.error());
    }
    return q->integer(0, 0);
}

Result<std::optional<FactsSnapshot>> PgStore::latest_host_state(std::string_view host) {
    auto q = exec("reading the state report of " + std::string(host),
                  "SELECT id, host, at, hash, document FROM host_states WHERE host = $1 "
                  "ORDER BY at DESC, id DESC LIMIT 1",
                  {host});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return std::optional<FactsSnapshot>();
    }
    return std::optional<FactsSnapshot>(read_snapshot(*q, 0));
}

Result<LockResult> PgStore::acquire_env_lock(
    const LockHolder& me, const std::function<bool(const LockHolder&)>& is_stale) {
    const std::string what = "locking environment " + me.env;
    // A holder that releases between our insert and our read leaves no row to read: try again.
    for (int attempt = 0; attempt < 10; ++attempt) {
        auto r = transaction(what, [&]() -> Result<std::optional<LockResult>> {
            auto ins =
                exec(what,
                     "INSERT INTO env_locks(env, run_id, pid, pid_start_ticks, host, "
                     "\"user\", started_at) VALUES($1,$2,$3,$4,$5,$6,$7) "
                     "ON CONFLICT (env) DO NOTHING",
                     {me.env, me.run_id, num(me.pid), num(static_cast<int64_t>(me.pid_start_ticks)),
                      me.host, me.user, num(me.started_at)});
            if (!ins) {
                return fail(ins.error());
            }
            LockResult result;
            if (ins->affected() == 1) {
                result.acquired = true;
                return std::optional<LockResult>(result);
            }
            auto q = exec(what,
                          "SELECT run_id, pid, pid_start_ticks, host, \"user\", started_at "
                          "FROM env_locks WHERE env = $1 FOR UPDATE",
                          {me.env});
            if (!q) {
                return fail(q.error());
            }
            if (q->rows() == 0) {
                return std::optional<LockResult>();
            }
            LockHolder holder{me.env,           q->text(0, 0),
                              q->integer(0, 1), static_cast<uint64_t>(q->integer(0, 2)),
                              q->text(0, 3),    q->integer(0, 5),
                              q->text(0, 4)};
            const bool is_me = holder.pid == me.pid && holder.host == me.host &&
                               holder.pid_start_ticks == me.pid_start_ticks;
            if (!is_me && !is_stale(holder)) {
                result.holder = holder;  // also when it is the same run, resumed elsewhere
                return std::optional<LockResult>(result);
            }
            if (!is_me) {
                result.holder = holder;
            }
            auto up =
                exec(what,
                     "UPDATE env_locks SET run_id = $2, pid = $3, pid_start_ticks = $4, "
                     "host = $5, \"user\" = $6, started_at = $7 WHERE env = $1",
                     {me.env, me.run_id, num(me.pid), num(static_cast<int64_t>(me.pid_start_ticks)),
                      me.host, me.user, num(me.started_at)});
            if (!up) {
                return fail(up.error());
            }
            result.acquired = true;
            if (result.holder) {
                if (auto audited = insert_audit(lock_takeover_audit(me, *result.holder));
                    !audited) {
                    return fail(audited.error());
                }
            }
            return std::optional<LockResult>(result);
        });
        if (!r) {
            return fail(r.error());
        }
        if (*r) {
            return **r;
        }
    }
    return fail(Errc::store,
                what + " in the store '" + m_where + "': its holder kept changing; try again");
}

Status PgStore::release_env_lock(std::string_view env, std::string_view run_id) {
    auto q = exec("unlocking environment " + std::string(env),
                  "DELETE FROM env_locks WHERE env = $1 AND run_id = $2", {env, run_id});
    if (!q) {
        return fail(q.error());
    }
    return {};
}

Status PgStore::save_applied_params(const AppliedParams& a) {
    const std::string what = "saving the applied parameters of " + a.host;
    return transaction(what, [&]() -> Status {
        if (auto del = exec(what, "DELETE FROM applied_params WHERE host = $1", {a.host}); !del) {
            return fail(del.error());
        }
        auto up = exec(what,
                       "INSERT INTO applies(host, at) VALUES($1,$2) "
                       "ON CONFLICT (host) DO UPDATE SET at = EXCLUDED.at",
                       {a.host, num(a.at)});
        if (!up) {
            return fail(up.error());
        }
        int64_t position = 0;
        for (const auto& [k, v] : a.params) {
            auto p = exec(what,
                          "INSERT INTO applied_params(host, position, name, value) "
                          "VALUES($1,$2,$3,$4)",
                          {a.host, num(position++), k, v});
            if (!p) {
                return fail(p.error());
            }
        }
        return {};
    });
}

Result<std::optional<AppliedParams>> PgStore::applied_params(std::string_view host) {
    const std::string what = "reading the applied parameters of " + std::string(host);
    auto q = exec(what, "SELECT at FROM applies WHERE host = $1", {host});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return std::optional<AppliedParams>();
    }
    AppliedParams a;
    a.host = std::string(host);
    a.at = q->integer(0, 0);
    auto params = read_params(
        what, "SELECT name, value FROM applied_params WHERE host = $1 ORDER BY position", host);
    if (!params) {
        return fail(params.error());
    }
    a.params = std::move(*params);
    return std::optional<AppliedParams>(std::move(a));
}

}  // namespace shipshape::store::pg_detail
