// The SQLite store: the only file that includes sqlite3.h. WAL mode with synchronous=FULL, so
// a committed transaction survives a crash of the process and of the machine. The schema is
// versioned with PRAGMA user_version and migrated forward in one transaction on open.
#include <sqlite3.h>

#include <memory>
#include <unordered_map>
#include <utility>

#include "core/assert.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace shipshape::store {

namespace {

// Each entry moves the schema from version i to i + 1. Never edit a released entry: append.
const char* const k_migrations[] = {
    R"sql(
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        checklist_path TEXT NOT NULL,
        checklist_name TEXT NOT NULL,
        checklist_text TEXT NOT NULL,
        env TEXT NOT NULL,
        status TEXT NOT NULL,
        user TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE run_params (
        run_id TEXT NOT NULL REFERENCES runs(id),
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_id, position)
    );
    CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs(id),
        step_id TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        exit_code INTEGER NOT NULL,
        detail TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        finish_seq INTEGER NOT NULL,
        undo_state TEXT NOT NULL,
        PRIMARY KEY (run_id, step_id)
    );
    CREATE TABLE check_offs (
        run_id TEXT NOT NULL REFERENCES runs(id),
        step_id TEXT NOT NULL,
        role TEXT NOT NULL,
        by TEXT NOT NULL,
        note TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX events_by_run ON events(run_id, seq);
    CREATE INDEX steps_by_finish ON steps(run_id, finish_seq);
    CREATE TABLE env_locks (
        env TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        pid INTEGER NOT NULL,
        pid_start_ticks INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at INTEGER NOT NULL
    );
    )sql",
    R"sql(
    CREATE TABLE facts_snapshots (
        id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        at INTEGER NOT NULL,
        hash TEXT NOT NULL,
        document TEXT NOT NULL
    );
    CREATE INDEX facts_by_host ON facts_snapshots(host, at);
    )sql",
    R"sql(
    CREATE TABLE host_states (
        id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        at INTEGER NOT NULL,
        hash TEXT NOT NULL,
        document TEXT NOT NULL
    );
    CREATE INDEX host_states_by_host ON host_states(host, at);
    )sql",
};

// Prepared statements are cached per connection (preparing costs more than running most of
// ours). A Statement borrows a cached one and resets it when done.
class StatementCache {
  public:
    explicit StatementCache(sqlite3* db) : m_db(db) {}
    StatementCache(const StatementCache&) = delete;
    StatementCache& operator=(const StatementCache&) = delete;
    ~StatementCache() {
        for (auto& [sql, stmt] : m_cache) {
            sqlite3_finalize(stmt);
        }
    }
    // Returns the statement, or nullptr when it does not compile (sqlite3_errmsg says why).
    sqlite3_stmt* get(const std::string& sql) {
        auto it = m_cache.find(sql);
        if (it != m_cache.end()) {
            return it->second;
        }
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
            return nullptr;
        }
        m_cache.emplace(sql, stmt);
        return stmt;
    }

  private:
    sqlite3* m_db;
    std::unordered_map<std::string, sqlite3_stmt*> m_cache;
};

class Statement {
  public:
    Statement(StatementCache& cache, const std::string& sql) {
        m_stmt = cache.get(sql);
        m_rc = m_stmt ? SQLITE_OK : SQLITE_ERROR;
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() {
        if (m_stmt) {
            sqlite3_reset(m_stmt);
            sqlite3_clear_bindings(m_stmt);
        }
    }

    bool ok() const { return m_rc == SQLITE_OK; }
    void reset() {
        if (!m_stmt) {
            return;
        }
        sqlite3_reset(m_stmt);
        sqlite3_clear_bindings(m_stmt);
    }
    Statement& bind(int i, std::string_view v) {
        sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement& bind(int i, int64_t v) {
        sqlite3_bind_int64(m_stmt, i, v);
        return *this;
    }
    // Returns SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return m_stmt ? sqlite3_step(m_stmt) : SQLITE_ERROR; }
    std::string text(int col) const {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, col));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(m_stmt, col))) : "";
    }
    int64_t integer(int col) const { return sqlite3_column_int64(m_stmt, col); }

  private:
    sqlite3_stmt* m_stmt = nullptr;
    int m_rc;
};

class SqliteStore final : public Store {
  public:
    explicit SqliteStore(sqlite3* db, std::string path)
        : m_db(db), m_path(std::move(path)), m_cache(std::make_unique<StatementCache>(db)) {}
    ~SqliteStore() override {
        m_cache.reset();
        sqlite3_close(m_db);
    }

    Status migrate();

    Status create_run(const RunRecord& run) override;
    Result<RunRecord> get_run(std::string_view id) override;
    Result<std::vector<RunRecord>> list_runs(int limit) override;
    Status update_run(std::string_view id, std::string_view status, int64_t pid,
                      int64_t at) override;
    Result<std::vector<StepRecord>> get_steps(std::string_view run_id) override;
    Result<int64_t> record_step(const StepRecord& step, const Event& event,
                                Durability durability) override;
    Status add_check_off(const CheckOff& check_off) override;
    Result<std::vector<CheckOff>> get_check_offs(std::string_view run_id) override;
    Status append_event(const Event& event) override;
    Result<std::vector<Event>> get_events(std::string_view run_id) override;
    Result<int64_t> save_facts(const FactsSnapshot& snapshot) override;
    Result<FactsSnapshot> get_facts(int64_t id) override;
    Result<std::vector<FactsSnapshot>> list_facts(std::string_view host, int limit) override;
    Result<int64_t> save_host_state(const FactsSnapshot& report) override;
    Result<std::optional<FactsSnapshot>> latest_host_state(std::string_view host) override;
    Result<LockResult> acquire_env_lock(
        const LockHolder& me, const std::function<bool(const LockHolder&)>& is_stale) override;
    Status release_env_lock(std::string_view env, std::string_view run_id) override;

  private:
    tl::unexpected<Error> db_error(std::string_view what) const {
        return fail(Errc::store,
                    std::string(what) + " in '" + m_path + "': " + sqlite3_errmsg(m_db));
    }
    Status exec(const char* sql, std::string_view what) {
        char* msg = nullptr;
        if (sqlite3_exec(m_db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string text = msg ? msg : "unknown error";
            sqlite3_free(msg);
            return fail(Errc::store, std::string(what) + " in '" + m_path + "': " + text);
        }
        return {};
    }
    // Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back when it fails.
    template <typename Body>
    auto transaction(std::string_view what, Body body) -> decltype(body()) {
        if (auto st = exec("BEGIN IMMEDIATE", what); !st) {
            return fail(st.error());
        }
        auto r = body();
        if (!r) {
            (void)exec("ROLLBACK", what);
            return r;
        }
        if (auto st = exec("COMMIT", what); !st) {
            (void)exec("ROLLBACK", what);
            return fail(st.error());
        }
        return r;
    }
    Status insert_event(const Event& e);
    Result<int64_t> write_step(const StepRecord& s);

    sqlite3* m_db;
    std::string m_path;
    std::unique_ptr<StatementCache> m_cache;
};

Status SqliteStore::migrate() {
    if (auto st = exec("PRAGMA journal_mode=WAL", "enabling WAL"); !st) {
        return st;
    }
    if (auto st = exec("PRAGMA synchronous=FULL", "setting synchronous"); !st) {
        return st;
    }
    if (auto st = exec("PRAGMA foreign_keys=ON", "enabling foreign keys"); !st) {
        return st;
    }
    return transaction("migrating the schema", [&]() -> Status {
        Statement q(*m_cache, "PRAGMA user_version");
        if (!q.ok() || q.step() != SQLITE_ROW) {
            return db_error("reading the schema version");
        }
        const int64_t have = q.integer(0);
        const int64_t want = static_cast<int64_t>(std::size(k_migrations));
        if (have > want) {
            return fail(Errc::store, "the store '" + m_path + "' has schema version " +
                                         std::to_string(have) + ", newer than this shipshape (" +
                                         std::to_string(want) + "): upgrade shipshape");
        }
        for (int64_t v = have; v < want; ++v) {
            if (auto st = exec(k_migrations[v], "migrating the schema"); !st) {
                return st;
            }
        }
        std::string set = "PRAGMA user_version=" + std::to_string(want);
        return exec(set.c_str(), "migrating the schema");
    });
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
        return insert_event(Event{0, run.started_at, run.id, "", "run-started",
                                  run.checklist_path + " on " + run.env});
    });
}

namespace {
constexpr const char* k_run_columns =
    "id, checklist_path, checklist_name, checklist_text, env, status, user, host, pid, "
    "started_at, updated_at";

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

Result<std::vector<RunRecord>> SqliteStore::list_runs(int limit) {
    std::string sql = std::string("SELECT ") + k_run_columns +
                      " FROM runs ORDER BY started_at DESC, id DESC LIMIT ?";
    Statement q(*m_cache, sql.c_str());
    q.bind(1, static_cast<int64_t>(limit));
    std::vector<RunRecord> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(read_run(q));
    }
    if (rc != SQLITE_DONE) {
        return db_error("listing runs");
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
        return insert_event(Event{0, at, std::string(id), "", "run-" + std::string(status), ""});
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
        StepRecord s;
        s.run_id = c.run_id;
        s.step_id = c.step_id;
        s.state = "checked-off";
        s.exit_code = 0;
        s.detail = "checked off by " + c.by + " as " + c.role;
        s.started_at = c.at;
        s.finished_at = c.at;
        s.finish_seq = -1;
        if (auto seq = write_step(s); !seq) {
            return fail(seq.error());
        }
        return insert_event(
            Event{0, c.at, c.run_id, c.step_id, "check-off",
                  "by " + c.by + " as " + c.role + (c.note.empty() ? "" : ": " + c.note)});
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
    Statement q(*m_cache,
                "SELECT id, host, at, hash, '' FROM facts_snapshots WHERE ? = '' OR host = ? "
                "ORDER BY at DESC, id DESC LIMIT ?");
    q.bind(1, host).bind(2, host).bind(3, static_cast<int64_t>(limit));
    std::vector<FactsSnapshot> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back({q.integer(0), q.text(1), q.integer(2), q.text(3), q.text(4)});
    }
    if (rc != SQLITE_DONE) {
        return db_error("listing facts snapshots");
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
        Statement q(
            *m_cache,
            "SELECT run_id, pid, pid_start_ticks, host, started_at FROM env_locks WHERE env = ?");
        q.bind(1, me.env);
        int rc = q.step();
        LockResult result;
        if (rc == SQLITE_ROW) {
            LockHolder holder{me.env,       q.text(0),
                              q.integer(1), static_cast<uint64_t>(q.integer(2)),
                              q.text(3),    q.integer(4)};
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
                    "started_at) VALUES(?,?,?,?,?,?)");
        w.bind(1, me.env).bind(2, me.run_id).bind(3, me.pid);
        w.bind(4, static_cast<int64_t>(me.pid_start_ticks)).bind(5, me.host).bind(6, me.started_at);
        if (w.step() != SQLITE_DONE) {
            return db_error("locking environment " + me.env);
        }
        result.acquired = true;
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

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        return fail(Errc::store, "opening the store '" + path + "': " + msg);
    }
    sqlite3_busy_timeout(db, 10000);
    auto store = std::make_unique<SqliteStore>(db, path);
    if (auto st = store->migrate(); !st) {
        return fail(st.error());
    }
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace shipshape::store
