// The SQLite store's host data (facts snapshots, state reports, the parameters of each host's
// last apply) and environment locks. See store/store.hpp for the contracts.
#include <optional>
#include <string>

#include "store/audit.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace shipshape::store::sqlite_detail {

Result<int64_t> SqliteStore::save_facts(const FactsSnapshot& f) {
    return transaction("saving facts of " + f.host, [&]() -> Result<int64_t> {
        Statement q(*m_cache,
                    "INSERT INTO facts_snapshots(host, at, hash, document) VALUES(?,?,?,?)");
        q.bind(1, f.host).bind(2, f.at).bind(3, f.hash).bind(4, f.document);
        if (q.step() != SQLITE_DONE) {
            return db_error("saving facts of " + f.host);
        }
        return static_cast<int64_t>(sqlite3_last_insert_rowid(m_db));
    });
}

Result<FactsSnapshot> SqliteStore::get_facts(int64_t id) {
    Statement q(*m_cache, "SELECT id, host, at, hash, document FROM facts_snapshots WHERE id = ?");
    q.bind(1, id);
    int rc = q.step();
    if (rc == SQLITE_DONE) {
        return fail(Errc::not_found, "no saved facts snapshot @" + std::to_string(id) +
                                         " (see 'shipshape facts --list')");
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading facts snapshot");
    }
    return FactsSnapshot{q.integer(0), q.text(1), q.integer(2), q.text(3), q.text(4)};
}

Result<std::vector<FactsSnapshot>> SqliteStore::list_facts(std::string_view host, int limit) {
    return list_snapshots("listing facts snapshots",
                          "SELECT id, host, at, hash, '' FROM facts_snapshots WHERE ? = '' OR "
                          "host = ? ORDER BY at DESC, id DESC LIMIT ?",
                          host, limit);
}

Result<std::vector<FactsSnapshot>> SqliteStore::list_snapshots(const char* what, const char* sql,
                                                               std::string_view host, int limit) {
    Statement q(*m_cache, sql);
    q.bind(1, host).bind(2, host).bind(3, static_cast<int64_t>(limit));
    std::vector<FactsSnapshot> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back({q.integer(0), q.text(1), q.integer(2), q.text(3), q.text(4)});
    }
    if (rc != SQLITE_DONE) {
        return db_error(what);
    }
    return out;
}

Result<int64_t> SqliteStore::save_host_state(const FactsSnapshot& f) {
    return transaction("saving the state report of " + f.host, [&]() -> Result<int64_t> {
        Statement q(*m_cache, "INSERT INTO host_states(host, at, hash, document) VALUES(?,?,?,?)");
        q.bind(1, f.host).bind(2, f.at).bind(3, f.hash).bind(4, f.document);
        if (q.step() != SQLITE_DONE) {
            return db_error("saving the state report of " + f.host);
        }
        return static_cast<int64_t>(sqlite3_last_insert_rowid(m_db));
    });
}

Result<std::optional<FactsSnapshot>> SqliteStore::latest_host_state(std::string_view host) {
    Statement q(*m_cache,
                "SELECT id, host, at, hash, document FROM host_states WHERE host = ? "
                "ORDER BY at DESC, id DESC LIMIT 1");
    q.bind(1, host);
    int rc = q.step();
    if (rc == SQLITE_DONE) {
        return std::optional<FactsSnapshot>();
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading the state report of " + std::string(host));
    }
    return std::optional<FactsSnapshot>(
        FactsSnapshot{q.integer(0), q.text(1), q.integer(2), q.text(3), q.text(4)});
}

Result<LockResult> SqliteStore::acquire_env_lock(
    const LockHolder& me, const std::function<bool(const LockHolder&)>& is_stale) {
    return transaction("locking environment " + me.env, [&]() -> Result<LockResult> {
        Statement q(*m_cache,
                    "SELECT run_id, pid, pid_start_ticks, host, started_at, user FROM env_locks "
                    "WHERE env = ?");
        q.bind(1, me.env);
        int rc = q.step();
        LockResult result;
        if (rc == SQLITE_ROW) {
            LockHolder holder{
                me.env,    q.text(0),    q.integer(1), static_cast<uint64_t>(q.integer(2)),
                q.text(3), q.integer(4), q.text(5)};
            const bool is_me = holder.pid == me.pid && holder.host == me.host &&
                               holder.pid_start_ticks == me.pid_start_ticks;
            if (!is_me && !is_stale(holder)) {
                result.holder = holder;  // also when it is the same run, resumed elsewhere
                return result;
            }
            if (!is_me) {
                result.holder = holder;
            }
        } else if (rc != SQLITE_DONE) {
            return db_error("reading the lock of environment " + me.env);
        }
        Statement w(*m_cache,
                    "INSERT OR REPLACE INTO env_locks(env, run_id, pid, pid_start_ticks, host, "
                    "started_at, user) VALUES(?,?,?,?,?,?,?)");
        w.bind(1, me.env).bind(2, me.run_id).bind(3, me.pid);
        w.bind(4, static_cast<int64_t>(me.pid_start_ticks)).bind(5, me.host).bind(6, me.started_at);
        w.bind(7, me.user);
        if (w.step() != SQLITE_DONE) {
            return db_error("locking environment " + me.env);
        }
        result.acquired = true;
        if (result.holder) {
            if (auto audited = insert_audit(lock_takeover_audit(me, *result.holder)); !audited) {
                return fail(audited.error());
            }
        }
        return result;
    });
}

Status SqliteStore::release_env_lock(std::string_view env, std::string_view run_id) {
    return transaction("unlocking environment", [&]() -> Status {
        Statement q(*m_cache, "DELETE FROM env_locks WHERE env = ? AND run_id = ?");
        q.bind(1, env).bind(2, run_id);
        if (q.step() != SQLITE_DONE) {
            return db_error("unlocking environment " + std::string(env));
        }
        return {};
    });
}

Status SqliteStore::save_applied_params(const AppliedParams& a) {
    return transaction("saving the applied parameters of " + a.host, [&]() -> Status {
        Statement del(*m_cache, "DELETE FROM applied_params WHERE host = ?");
        del.bind(1, a.host);
        if (del.step() != SQLITE_DONE) {
            return db_error("saving the applied parameters of " + a.host);
        }
        Statement up(*m_cache, "INSERT OR REPLACE INTO applies(host, at) VALUES(?,?)");
        up.bind(1, a.host).bind(2, a.at);
        if (up.step() != SQLITE_DONE) {
            return db_error("saving the applied parameters of " + a.host);
        }
        int64_t position = 0;
        for (const auto& [k, v] : a.params) {
            Statement p(*m_cache,
                        "INSERT INTO applied_params(host, position, name, value) VALUES(?,?,?,?)");
            p.bind(1, a.host).bind(2, position++).bind(3, k).bind(4, v);
            if (p.step() != SQLITE_DONE) {
                return db_error("saving the applied parameters of " + a.host);
            }
        }
        return {};
    });
}

Result<std::optional<AppliedParams>> SqliteStore::applied_params(std::string_view host) {
    Statement q(*m_cache, "SELECT at FROM applies WHERE host = ?");
    q.bind(1, host);
    int rc = q.step();
    if (rc == SQLITE_DONE) {
        return std::optional<AppliedParams>();
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading the applied parameters of " + std::string(host));
    }
    AppliedParams a;
    a.host = std::string(host);
    a.at = q.integer(0);
    Statement p(*m_cache,
                "SELECT name, value FROM applied_params WHERE host = ? ORDER BY position");
    p.bind(1, host);
    while ((rc = p.step()) == SQLITE_ROW) {
        a.params.emplace_back(p.text(0), p.text(1));
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading the applied parameters of " + std::string(host));
    }
    return std::optional<AppliedParams>(std::move(a));
}

}  // namespace shipshape::store::sqlite_detail
