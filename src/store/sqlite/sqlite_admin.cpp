// The SQLite store's StoreAdmin part (see store/store.hpp; stored_schema_version is in
// sqlite_store.cpp): state reports by host, and writing records copied from another store with
// their own ids and times.
#include <string>
#include <vector>

#include "store/sqlite/sqlite_db.hpp"

namespace shipshape::store::sqlite_detail {

Result<std::vector<FactsSnapshot>> SqliteStore::list_host_states(std::string_view host, int limit) {
    return list_snapshots("listing state reports",
                          "SELECT id, host, at, hash, document FROM host_states WHERE ? = '' OR "
                          "host = ? ORDER BY at DESC, id DESC LIMIT ?",
                          host, limit);
}

Result<bool> SqliteStore::import_run(const RunBundle& b) {
    const RunRecord& run = b.run;
    return transaction("copying run " + run.id, [&]() -> Result<bool> {
        Statement q(*m_cache,
                    "INSERT OR IGNORE INTO runs(id, checklist_path, checklist_name, "
                    "checklist_text, env, status, user, host, pid, started_at, updated_at) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?)");
        q.bind(1, run.id).bind(2, run.checklist_path).bind(3, run.checklist_name);
        q.bind(4, run.checklist_text).bind(5, run.env).bind(6, run.status).bind(7, run.user);
        q.bind(8, run.host).bind(9, run.pid).bind(10, run.started_at).bind(11, run.updated_at);
        if (q.step() != SQLITE_DONE) {
            return db_error("copying run " + run.id);
        }
        if (sqlite3_changes(m_db) == 0) {
            return false;
        }
        int64_t position = 0;
        for (const auto& [k, v] : run.params) {
            Statement p(*m_cache,
                        "INSERT INTO run_params(run_id, position, name, value) VALUES(?,?,?,?)");
            p.bind(1, run.id).bind(2, position++).bind(3, k).bind(4, v);
            if (p.step() != SQLITE_DONE) {
                return db_error("copying params of run " + run.id);
            }
        }
        for (const auto& s : b.steps) {
            if (auto seq = write_step(s); !seq) {
                return fail(seq.error());
            }
        }
        for (const auto& c : b.check_offs) {
            Statement p(*m_cache,
                        "INSERT INTO check_offs(run_id, step_id, role, by, note, at) "
                        "VALUES(?,?,?,?,?,?)");
            p.bind(1, run.id).bind(2, c.step_id).bind(3, c.role).bind(4, c.by).bind(5, c.note);
            p.bind(6, c.at);
            if (p.step() != SQLITE_DONE) {
                return db_error("copying check-offs of run " + run.id);
            }
        }
        for (Event e : b.events) {
            e.run_id = run.id;
            if (auto st = insert_event(e); !st) {
                return fail(st.error());
            }
        }
        std::vector<LogLine> lines = b.log_lines;
        for (auto& l : lines) {
            l.run_id = run.id;
        }
        if (auto st = insert_log_lines(lines); !st) {
            return fail(st.error());
        }
        return true;
    });
}

Result<std::vector<AppliedParams>> SqliteStore::list_applied_params() {
    std::vector<std::string> hosts;
    {
        Statement q(*m_cache, "SELECT host FROM applies ORDER BY host");
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) {
            hosts.push_back(q.text(0));
        }
        if (rc != SQLITE_DONE) {
            return db_error("listing applied parameters");
        }
    }
    std::vector<AppliedParams> out;
    for (const auto& host : hosts) {
        auto a = applied_params(host);
        if (!a) {
            return fail(a.error());
        }
        if (*a) {
            out.push_back(std::move(**a));
        }
    }
    return out;
}

Result<bool> SqliteStore::import_snapshot(const char* table, const FactsSnapshot& f) {
    const std::string what = std::string("copying ") + table + " of " + f.host;
    return transaction(what, [&]() -> Result<bool> {
        const std::string exists =
            std::string("SELECT 1 FROM ") + table + " WHERE host = ? AND at = ? AND hash = ?";
        Statement q(*m_cache, exists);
        q.bind(1, f.host).bind(2, f.at).bind(3, f.hash);
        const int rc = q.step();
        if (rc == SQLITE_ROW) {
            return false;
        }
        if (rc != SQLITE_DONE) {
            return db_error(what);
        }
        const std::string insert =
            std::string("INSERT INTO ") + table + "(host, at, hash, document) VALUES(?,?,?,?)";
        Statement i(*m_cache, insert);
        i.bind(1, f.host).bind(2, f.at).bind(3, f.hash).bind(4, f.document);
        if (i.step() != SQLITE_DONE) {
            return db_error(what);
        }
        return true;
    });
}

Result<bool> SqliteStore::import_facts(const FactsSnapshot& snapshot) {
    return import_snapshot("facts_snapshots", snapshot);
}

Result<bool> SqliteStore::import_host_state(const FactsSnapshot& report) {
    return import_snapshot("host_states", report);
}

}  // namespace shipshape::store::sqlite_detail
