// The SQLite store's log lines and the reads of the live stream (#15): see store.hpp. Log lines
// are written with synchronous=NORMAL (relaxed, as RunJournal's step records): in WAL mode the
// commit survives a crash of the process and becomes durable with the next full commit.
#include <string>
#include <vector>

#include "store/sqlite/sqlite_db.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace shipshape::store::sqlite_detail {

Status SqliteStore::append_log_lines(const std::vector<LogLine>& batch) {
    if (batch.empty()) {
        return {};
    }
    if (auto st = exec("PRAGMA synchronous=NORMAL", "relaxing sync"); !st) {
        return st;
    }
    auto st =
        transaction("appending log lines", [&]() -> Status { return insert_log_lines(batch); });
    if (auto restored = exec("PRAGMA synchronous=FULL", "restoring sync"); !restored) {
        return restored;
    }
    return st;
}

Status SqliteStore::insert_log_lines(const std::vector<LogLine>& batch) {
    Statement q(*m_cache, "INSERT INTO log_lines(run_id, step_id, at, line) VALUES(?,?,?,?)");
    for (const auto& l : batch) {
        q.reset();
        q.bind(1, l.run_id).bind(2, l.step_id).bind(3, l.at).bind(4, l.line);
        if (q.step() != SQLITE_DONE) {
            return db_error("appending log lines");
        }
    }
    return {};
}

namespace {

Result<std::vector<LogLine>> read_lines(SqliteStore& db, Statement& q) {
    std::vector<LogLine> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(LogLine{q.integer(0), q.integer(1), q.text(2), q.text(3), q.text(4)});
    }
    if (rc != SQLITE_DONE) {
        return db.db_error("reading log lines");
    }
    return out;
}

}  // namespace

Result<std::vector<LogLine>> SqliteStore::get_log(std::string_view run_id,
                                                  std::string_view step_id) {
    Statement q(*m_cache,
                "SELECT seq, at, run_id, step_id, line FROM log_lines WHERE run_id = ? AND "
                "step_id = ? ORDER BY seq");
    q.bind(1, run_id).bind(2, step_id);
    return read_lines(*this, q);
}

Result<std::vector<std::string>> SqliteStore::steps_with_logs(std::string_view run_id) {
    Statement q(*m_cache,
                "SELECT DISTINCT step_id FROM log_lines WHERE run_id = ? ORDER BY step_id");
    q.bind(1, run_id);
    std::vector<std::string> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(q.text(0));
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading which steps have logs");
    }
    return out;
}

Result<std::vector<LogLine>> SqliteStore::log_lines_since(int64_t after_seq, int limit,
                                                          std::string_view run_id) {
    if (run_id.empty()) {
        Statement q(*m_cache,
                    "SELECT seq, at, run_id, step_id, line FROM log_lines WHERE seq > ? "
                    "ORDER BY seq LIMIT ?");
        q.bind(1, after_seq).bind(2, static_cast<int64_t>(limit));
        return read_lines(*this, q);
    }
    Statement q(*m_cache,
                "SELECT seq, at, run_id, step_id, line FROM log_lines WHERE run_id = ? AND "
                "seq > ? ORDER BY seq LIMIT ?");
    q.bind(1, run_id).bind(2, after_seq).bind(3, static_cast<int64_t>(limit));
    return read_lines(*this, q);
}

Result<std::vector<Event>> SqliteStore::events_since(int64_t after_seq, int limit,
                                                     std::string_view run_id) {
    const bool one_run = !run_id.empty();
    Statement q(*m_cache, one_run ? "SELECT seq, at, run_id, step_id, kind, detail FROM events "
                                    "WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
                                  : "SELECT seq, at, run_id, step_id, kind, detail FROM events "
                                    "WHERE seq > ? ORDER BY seq LIMIT ?");
    const int first = one_run ? 2 : 1;
    if (one_run) {
        q.bind(1, run_id);
    }
    q.bind(first, after_seq);
    q.bind(first + 1, static_cast<int64_t>(limit));
    std::vector<Event> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(
            Event{q.integer(0), q.integer(1), q.text(2), q.text(3), q.text(4), q.text(5)});
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading events");
    }
    return out;
}

Result<ChangeCursor> SqliteStore::latest_cursor() {
    Statement q(*m_cache,
                "SELECT (SELECT COALESCE(MAX(seq), 0) FROM events), "
                "(SELECT COALESCE(MAX(seq), 0) FROM log_lines)");
    if (q.step() != SQLITE_ROW) {
        return db_error("reading the newest sequence numbers");
    }
    return ChangeCursor{q.integer(0), q.integer(1)};
}

Result<std::unique_ptr<Store>> SqliteStore::connect_again() {
    return open_sqlite_store(m_path, m_read_only.empty() ? Access::read_write : Access::read_only);
}

Result<std::unique_ptr<ChangeWaiter>> SqliteStore::open_change_waiter() {
    return store::open_change_waiter("sqlite:" + m_path);
}

}  // namespace shipshape::store::sqlite_detail
