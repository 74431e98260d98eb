// The PostgreSQL store's StoreAdmin part (see store/store.hpp; stored_schema_version is in
// pg_store.cpp): state reports by host, and writing records copied from another store with their
// own ids and times.
#include <string>
#include <vector>

#include "store/postgres/pg_db.hpp"

namespace shipshape::store::pg_detail {

Result<std::vector<FactsSnapshot>> PgStore::list_host_states(std::string_view host, int limit) {
    return list_snapshots("listing state reports",
                          "SELECT id, host, at, hash, document FROM host_states "
                          "WHERE $1 = '' OR host = $1 ORDER BY at DESC, id DESC LIMIT $2",
                          host, limit);
}

Result<bool> PgStore::import_run(const RunBundle& b) {
    const RunRecord& run = b.run;
    const std::string what = "copying run " + run.id;
    return transaction(what, [&]() -> Result<bool> {
        auto q = exec(what,
                      "INSERT INTO runs(id, checklist_path, checklist_name, checklist_text, env, "
                      "status, \"user\", host, pid, started_at, updated_at) "
                      "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (id) DO NOTHING",
                      {run.id, run.checklist_path, run.checklist_name, run.checklist_text, run.env,
                       run.status, run.user, run.host, num(run.pid), num(run.started_at),
                       num(run.updated_at)});
        if (!q) {
            return fail(q.error());
        }
        if (q->affected() == 0) {
            return false;
        }
        int64_t position = 0;
        for (const auto& [k, v] : run.params) {
            auto p = exec(what,
                          "INSERT INTO run_params(run_id, position, name, value) "
                          "VALUES($1,$2,$3,$4)",
                          {run.id, num(position++), k, v});
            if (!p) {
                return fail(p.error());
            }
        }
        for (const auto& s : b.steps) {
            if (auto seq = write_step(s); !seq) {
                return fail(seq.error());
            }
        }
        for (const auto& c : b.check_offs) {
            auto p = exec(what,
                          "INSERT INTO check_offs(run_id, step_id, role, \"by\", note, at) "
                          "VALUES($1,$2,$3,$4,$5,$6)",
                          {run.id, c.step_id, c.role, c.by, c.note, num(c.at)});
            if (!p) {
                return fail(p.error());
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
        if (auto st = insert_log_lines(what, lines); !st) {
            return fail(st.error());
        }
        return true;
    });
}

Result<std::vector<AppliedParams>> PgStore::list_applied_params() {
    auto q = exec("listing applied parameters", "SELECT host FROM applies ORDER BY host");
    if (!q) {
        return fail(q.error());
    }
    std::vector<AppliedParams> out;
    for (int i = 0; i < q->rows(); ++i) {
        auto a = applied_params(q->text(i, 0));
        if (!a) {
            return fail(a.error());
        }
        if (*a) {
            out.push_back(std::move(**a));
        }
    }
    return out;
}

Result<bool> PgStore::import_snapshot(const char* table, const FactsSnapshot& f) {
    const std::string what = std::string("copying ") + table + " of " + f.host;
    // One statement: the check and the insert cannot be split by another copier.
    const std::string sql = std::string("INSERT INTO ") + table +
                            "(host, at, hash, document) SELECT $1, $2, $3, $4 WHERE NOT EXISTS "
                            "(SELECT 1 FROM " +
                            table + " WHERE host = $1 AND at = $2 AND hash = $3)";
    auto q = exec(what, sql.c_str(), {f.host, num(f.at), f.hash, f.document});
    if (!q) {
        return fail(q.error());
    }
    return q->affected() > 0;
}

Result<bool> PgStore::import_facts(const FactsSnapshot& snapshot) {
    return import_snapshot("facts_snapshots", snapshot);
}

Result<bool> PgStore::import_host_state(const FactsSnapshot& report) {
    return import_snapshot("host_states", report);
}

}  // namespace shipshape::store::pg_detail
