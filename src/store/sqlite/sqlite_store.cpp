// The SQLite store (see store/store.hpp for the contract): opening, migrating the schema (its
// migrations are in sqlite_schema.cpp), and runs with their journal. WAL mode with
// synchronous=FULL, so a committed transaction survives a crash of the process and of the machine.
// The schema is versioned with PRAGMA user_version and migrated forward in one transaction on open.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "store/audit.hpp"
#include "store/sqlite/sqlite_db.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace shipshape::store {

namespace sqlite_detail {

Status SqliteStore::migrate() {
    // Switching a new database to WAL needs it alone, and SQLite answers "database is locked"
    // at once rather than calling the busy handler (two shipshapes creating the store together,
    // e.g. a run and a check-off). WAL is persistent: once either has switched, the other's
    // pragma is a no-op that succeeds. So retry the lock for up to the busy timeout.
    for (int attempt = 0;; ++attempt) {
        const int rc = sqlite3_exec(m_db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK) {
            break;
        }
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt == 1000) {
            return db_error("enabling WAL");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (auto st = exec("PRAGMA synchronous=FULL", "setting synchronous"); !st) {
        return st;
    }
    if (auto st = exec("PRAGMA foreign_keys=ON", "enabling foreign keys"); !st) {
        return st;
    }
    // A store at the current schema is not written: a read-only command then works on a full
    // disk too (a write transaction may need space). The version is read again inside the
    // transaction, as another shipshape may migrate in between.
    {
        Statement q(*m_cache, "PRAGMA user_version");
        if (q.ok() && q.step() == SQLITE_ROW && q.integer(0) == schema_version()) {
            return {};
        }
    }
    return transaction("migrating the schema", [&]() -> Status {
        auto have = stored_schema_version();
        if (!have) {
            return fail(have.error());
        }
        for (int64_t v = *have; v < schema_version(); ++v) {
            if (auto st = exec(migration_sql(v), "migrating the schema"); !st) {
                return st;
            }
        }
        std::string set = "PRAGMA user_version=" + std::to_string(schema_version());
        return exec(set.c_str(), "migrating the schema");
    });
}

Result<int64_t> SqliteStore::stored_schema_version() {
    Statement q(*m_cache, "PRAGMA user_version");
    if (!q.ok() || q.step() != SQLITE_ROW) {
        return db_error("reading the schema version");
    }
    const int64_t have = q.integer(0);
    if (have > schema_version()) {
        return fail(Errc::store, "the store '" + m_path + "' has schema version " +
                                     std::to_string(have) + ", newer than this shipshape (" +
                                     std::to_string(schema_version()) + "): upgrade shipshape");
    }
    return have;
}

Status SqliteStore::check_schema_read_only() {
    auto stored = stored_schema_version();
    if (!stored) {
        return fail(stored.error());
    }
    const int64_t have = *stored;
    const int64_t want = schema_version();
    if (have < want) {
        return fail(Errc::store, "the store '" + m_path + "' has schema version " +
                                     std::to_string(have) + " and this shipshape needs " +
                                     std::to_string(want) + ", but it is read-only (" +
                                     m_read_only +
                                     "): run shipshape once where it can write the store, to "
                                     "upgrade it");
    }
    return {};
}

Status SqliteStore::insert_event(const Event& e) {
    Statement q(*m_cache,
                "INSERT INTO events(at, run_id, step_id, kind, detail) VALUES(?,?,?,?,?)");
    q.bind(1, e.at).bind(2, e.run_id).bind(3, e.step_id).bind(4, e.kind).bind(5, e.detail);
    if (q.step() != SQLITE_DONE) {
        return db_error("appending an event");
    }
    return {};
}

Result<std::string> SqliteStore::run_user(std::string_view run_id) {
    Statement q(*m_cache, "SELECT user FROM runs WHERE id = ?");
    q.bind(1, run_id);
    const int rc = q.step();
    if (rc == SQLITE_DONE) {
        return std::string();  // a step of an unknown run: the step's own write reports it
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading the user of run " + std::string(run_id));
    }
    return q.text(0);
}

Status SqliteStore::create_run(const RunRecord& run) {
    return transaction("creating run " + run.id, [&]() -> Status {
        Statement q(*m_cache,
                    "INSERT INTO runs(id, checklist_path, checklist_name, checklist_text, env, "
                    "status, user, host, pid, started_at, updated_at) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?)");
        q.bind(1, run.id).bind(2, run.checklist_path).bind(3, run.checklist_name);
        q.bind(4, run.checklist_text).bind(5, run.env).bind(6, run.status).bind(7, run.user);
        q.bind(8, run.host).bind(9, run.pid).bind(10, run.started_at).bind(11, run.updated_at);
        int rc = q.step();
        if (rc == SQLITE_CONSTRAINT) {
            return fail(Errc::already_exists, "run " + run.id + " already exists");
        }
        if (rc != SQLITE_DONE) {
            return db_error("creating run " + run.id);
        }
        int64_t position = 0;
        for (const auto& [k, v] : run.params) {
            Statement p(*m_cache,
                        "INSERT INTO run_params(run_id, position, name, value) VALUES(?,?,?,?)");
            p.bind(1, run.id).bind(2, position++).bind(3, k).bind(4, v);
            if (p.step() != SQLITE_DONE) {
                return db_error("storing params of run " + run.id);
            }
        }
        if (auto st = insert_event(Event{0, run.started_at, run.id, "", "run-started",
                                         run.checklist_path + " on " + run.env});
            !st) {
            return st;
        }
        if (auto audited = insert_audit(run_started_audit(run)); !audited) {
            return fail(audited.error());
        }
        return {};
    });
}

namespace {
constexpr const char* k_run_columns =
    "id, checklist_path, checklist_name, checklist_text, env, status, user, host, pid, "
    "started_at, updated_at";
// The same columns, without the checklist's text (read_run reads it as "").
constexpr const char* k_brief_run_columns =
    "id, checklist_path, checklist_name, '', env, status, user, host, pid, started_at, "
    "updated_at";

RunRecord read_run(const Statement& q) {
    RunRecord r;
    r.id = q.text(0);
    r.checklist_path = q.text(1);
    r.checklist_name = q.text(2);
    r.checklist_text = q.text(3);
    r.env = q.text(4);
    r.status = q.text(5);
    r.user = q.text(6);
    r.host = q.text(7);
    r.pid = q.integer(8);
    r.started_at = q.integer(9);
    r.updated_at = q.integer(10);
    return r;
}
}  // namespace

Result<RunRecord> SqliteStore::get_run(std::string_view id) {
    std::string sql = std::string("SELECT ") + k_run_columns + " FROM runs WHERE id = ?";
    Statement q(*m_cache, sql.c_str());
    q.bind(1, id);
    int rc = q.step();
    if (rc == SQLITE_DONE) {
        return fail(Errc::not_found, "no run '" + std::string(id) + "' (see 'shipshape runs')");
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading run " + std::string(id));
    }
    RunRecord run = read_run(q);
    Statement p(*m_cache, "SELECT name, value FROM run_params WHERE run_id = ? ORDER BY position");
    p.bind(1, id);
    while ((rc = p.step()) == SQLITE_ROW) {
        run.params.emplace_back(p.text(0), p.text(1));
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading params of run " + std::string(id));
    }
    return run;
}

Result<std::vector<RunRecord>> SqliteStore::list_runs(const RunFilter& filter) {
    // Only the conditions asked for are in the SQL, so that each shape of filter is one cached
    // statement with a plan of its own.
    std::string sql = std::string("SELECT ") +
                      (filter.brief ? k_brief_run_columns : k_run_columns) + " FROM runs";
    std::vector<std::string_view> values;
    const std::pair<const char*, const std::string*> conditions[] = {
        {"env", &filter.env}, {"checklist_name", &filter.checklist}, {"status", &filter.status}};
    for (const auto& [column, value] : conditions) {
        if (!value->empty()) {
            sql += values.empty() ? " WHERE " : " AND ";
            sql += std::string(column) + " = ?";
            values.push_back(*value);
        }
    }
    sql += " ORDER BY started_at DESC, id DESC LIMIT ?";
    Statement q(*m_cache, sql);
    int index = 1;
    for (auto v : values) {
        q.bind(index++, v);
    }
    q.bind(index, static_cast<int64_t>(filter.limit));
    std::vector<RunRecord> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(read_run(q));
    }
    if (rc != SQLITE_DONE) {
        return db_error("listing runs");
    }
    if (filter.brief) {
        return out;
    }
    Statement p(*m_cache, "SELECT name, value FROM run_params WHERE run_id = ? ORDER BY position");
    for (auto& run : out) {
        p.reset();
        p.bind(1, run.id);
        while ((rc = p.step()) == SQLITE_ROW) {
            run.params.emplace_back(p.text(0), p.text(1));
        }
        if (rc != SQLITE_DONE) {
            return db_error("reading params of run " + run.id);
        }
    }
    return out;
}

Status SqliteStore::update_run(std::string_view id, std::string_view status, int64_t pid,
                               int64_t at) {
    return transaction("updating run", [&]() -> Status {
        Statement q(*m_cache, "UPDATE runs SET status = ?, pid = ?, updated_at = ? WHERE id = ?");
        q.bind(1, status).bind(2, pid).bind(3, at).bind(4, id);
        if (q.step() != SQLITE_DONE) {
            return db_error("updating run " + std::string(id));
        }
        if (sqlite3_changes(m_db) == 0) {
            return fail(Errc::not_found, "no run '" + std::string(id) + "'");
        }
        if (auto st =
                insert_event(Event{0, at, std::string(id), "", "run-" + std::string(status), ""});
            !st) {
            return st;
        }
        if (!is_final_run_status(status)) {
            return {};
        }
        auto user = run_user(id);
        if (!user) {
            return fail(user.error());
        }
        if (auto audited = insert_audit(run_ended_audit(id, status, at, *user)); !audited) {
            return fail(audited.error());
        }
        return {};
    });
}

Result<std::vector<StepRecord>> SqliteStore::get_steps(std::string_view run_id) {
    Statement q(*m_cache,
                "SELECT step_id, state, attempts, exit_code, detail, started_at, finished_at, "
                "duration_ms, finish_seq, undo_state FROM steps WHERE run_id = ?");
    q.bind(1, run_id);
    std::vector<StepRecord> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        StepRecord s;
        s.run_id = std::string(run_id);
        s.step_id = q.text(0);
        s.state = q.text(1);
        s.attempts = static_cast<int>(q.integer(2));
        s.exit_code = static_cast<int>(q.integer(3));
        s.detail = q.text(4);
        s.started_at = q.integer(5);
        s.finished_at = q.integer(6);
        s.duration_ms = q.integer(7);
        s.finish_seq = q.integer(8);
        s.undo_state = q.text(9);
        out.push_back(std::move(s));
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading steps of run " + std::string(run_id));
    }
    return out;
}

Result<int64_t> SqliteStore::write_step(const StepRecord& s) {
    int64_t seq = s.finish_seq;
    if (seq < 0) {
        Statement q(*m_cache,
                    "SELECT COALESCE(MAX(finish_seq), 0) + 1 FROM steps WHERE run_id = ?");
        q.bind(1, s.run_id);
        if (q.step() != SQLITE_ROW) {
            return db_error("numbering a finished step");
        }
        seq = q.integer(0);
    }
    Statement q(*m_cache,
                "INSERT OR REPLACE INTO steps(run_id, step_id, state, attempts, exit_code, detail, "
                "started_at, finished_at, duration_ms, finish_seq, undo_state) "
                "VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    q.bind(1, s.run_id).bind(2, s.step_id).bind(3, s.state).bind(4, int64_t{s.attempts});
    q.bind(5, int64_t{s.exit_code}).bind(6, s.detail).bind(7, s.started_at);
    q.bind(8, s.finished_at).bind(9, s.duration_ms).bind(10, seq).bind(11, s.undo_state);
    if (q.step() != SQLITE_DONE) {
        return db_error("recording step " + s.step_id);
    }
    return seq;
}

Result<int64_t> SqliteStore::record_step(const StepRecord& step, const Event& event,
                                         Durability durability) {
    // In WAL mode a NORMAL commit is ordered and survives a process crash but is fsynced only
    // with the next FULL commit (or checkpoint); the next FULL commit makes it durable too.
    if (durability == Durability::relaxed) {
        if (auto st = exec("PRAGMA synchronous=NORMAL", "relaxing sync"); !st) {
            return fail(st.error());
        }
    }
    auto r = transaction("recording step " + step.step_id, [&]() -> Result<int64_t> {
        auto seq = write_step(step);
        if (!seq) {
            return seq;
        }
        if (auto st = insert_event(event); !st) {
            return fail(st.error());
        }
        if (step.finish_seq < 0) {
            auto user = run_user(step.run_id);
            if (!user) {
                return fail(user.error());
            }
            if (auto audited = insert_audit(step_audit(step, *user)); !audited) {
                return fail(audited.error());
            }
        }
        return seq;
    });
    if (durability == Durability::relaxed) {
        if (auto st = exec("PRAGMA synchronous=FULL", "restoring sync"); !st) {
            return fail(st.error());
        }
    }
    return r;
}

Status SqliteStore::add_check_off(const CheckOff& c) {
    return transaction("recording a check-off", [&]() -> Status {
        Statement q(
            *m_cache,
            "INSERT INTO check_offs(run_id, step_id, role, by, note, at) VALUES(?,?,?,?,?,?)");
        q.bind(1, c.run_id).bind(2, c.step_id).bind(3, c.role).bind(4, c.by).bind(5, c.note);
        q.bind(6, c.at);
        if (q.step() != SQLITE_DONE) {
            return db_error("recording a check-off");
        }
        if (auto seq = write_step(checked_off_step(c)); !seq) {
            return fail(seq.error());
        }
        if (auto st = insert_event(check_off_event(c)); !st) {
            return st;
        }
        if (auto audited = insert_audit(check_off_audit(c)); !audited) {
            return fail(audited.error());
        }
        return {};
    });
}

Result<std::vector<CheckOff>> SqliteStore::get_check_offs(std::string_view run_id) {
    Statement q(
        *m_cache,
        "SELECT step_id, role, by, note, at FROM check_offs WHERE run_id = ? ORDER BY at, rowid");
    q.bind(1, run_id);
    std::vector<CheckOff> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(CheckOff{std::string(run_id), q.text(0), q.text(1), q.text(2), q.text(3),
                               q.integer(4)});
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading check-offs");
    }
    return out;
}

Status SqliteStore::append_event(const Event& event) {
    return transaction("appending an event", [&]() -> Status { return insert_event(event); });
}

Result<std::vector<Event>> SqliteStore::get_events(std::string_view run_id) {
    Statement q(*m_cache,
                "SELECT seq, at, step_id, kind, detail FROM events WHERE run_id = ? ORDER BY seq");
    q.bind(1, run_id);
    std::vector<Event> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(Event{q.integer(0), q.integer(1), std::string(run_id), q.text(2), q.text(3),
                            q.text(4)});
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading events");
    }
    return out;
}

}  // namespace sqlite_detail

}  // namespace shipshape::store
