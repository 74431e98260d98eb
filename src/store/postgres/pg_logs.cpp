// The PostgreSQL store's log lines, the reads of the live stream and its ChangeWaiter (#15): see
// store.hpp. A batch of log lines is one transaction (a few statements of up to k_rows_per_insert
// rows each) committed with synchronous_commit off; every write of an event or log line sends
// NOTIFY on k_change_channel in its transaction, which the waiter's own connection LISTENs to.
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "store/postgres/pg_db.hpp"
#include "store/postgres/pg_store.hpp"

namespace shipshape::store {

namespace pg_detail {

namespace {

// Four parameters a row; PostgreSQL takes at most 65535 parameters a statement.
constexpr size_t k_rows_per_insert = 1000;

constexpr const char* k_line_columns = "seq, at, run_id, step_id, line";

std::vector<LogLine> read_lines(const PgResult& q) {
    std::vector<LogLine> out;
    out.reserve(static_cast<size_t>(q.rows()));
    for (int i = 0; i < q.rows(); ++i) {
        out.push_back(
            LogLine{q.integer(i, 0), q.integer(i, 1), q.text(i, 2), q.text(i, 3), q.text(i, 4)});
    }
    return out;
}

}  // namespace

Status PgStore::append_log_lines(const std::vector<LogLine>& batch) {
    if (batch.empty()) {
        return {};
    }
    const std::string what = "appending log lines";
    return transaction(what, [&]() -> Status {
        if (auto st = exec(what, "SET LOCAL synchronous_commit = off"); !st) {
            return fail(st.error());
        }
        return insert_log_lines(what, batch);
    });
}

Status PgStore::insert_log_lines(const std::string& what, const std::vector<LogLine>& batch) {
    if (batch.empty()) {
        return {};
    }
    if (auto st = exec(what, k_log_lock_and_notify); !st) {
        return fail(st.error());
    }
    for (size_t start = 0; start < batch.size(); start += k_rows_per_insert) {
        const size_t end = std::min(batch.size(), start + k_rows_per_insert);
        std::string sql = "INSERT INTO log_lines(run_id, step_id, at, line) VALUES";
        std::vector<std::string> values;
        values.reserve((end - start) * 4);
        for (size_t i = start; i < end; ++i) {
            const size_t p = (i - start) * 4;
            sql += (i == start ? "($" : ",($") + std::to_string(p + 1) + ",$" +
                   std::to_string(p + 2) + ",$" + std::to_string(p + 3) + ",$" +
                   std::to_string(p + 4) + ")";
            values.push_back(batch[i].run_id);
            values.push_back(batch[i].step_id);
            values.push_back(num(batch[i].at));
            values.push_back(batch[i].line);
        }
        std::vector<const char*> raw;
        raw.reserve(values.size());
        for (const auto& v : values) {
            raw.push_back(v.c_str());
        }
        PgResult r(PQexecParams(m_conn, sql.c_str(), static_cast<int>(raw.size()), nullptr,
                                raw.data(), nullptr, nullptr, 0));
        if (PQresultStatus(r.raw()) != PGRES_COMMAND_OK) {
            return fail(Errc::store, what + " in the store '" + m_where +
                                         "': " + std::string(trim(PQerrorMessage(m_conn))));
        }
    }
    return {};
}

Result<std::vector<PgResult>> PgStore::pipeline(const std::string& what,
                                                const std::vector<Piped>& statements) {
    const auto error = [&](const std::string& message) {
        return fail(Errc::store, what + " in the store '" + m_where + "': " + message);
    };
    if (auto st = reconnect_if_broken(); !st) {  // after PostgreSQL restarted, as exec does
        return fail(st.error());
    }
    if (PQenterPipelineMode(m_conn) == 0) {
        return error(std::string(trim(PQerrorMessage(m_conn))));
    }
    bool sent = true;
    for (const auto& st : statements) {
        std::vector<const char*> values;
        values.reserve(st.params.size());
        for (const auto& v : st.params) {
            values.push_back(v.c_str());
        }
        sent = sent && PQsendQueryParams(m_conn, st.sql, static_cast<int>(values.size()), nullptr,
                                         values.empty() ? nullptr : values.data(), nullptr, nullptr,
                                         0) == 1;
    }
    sent = sent && PQpipelineSync(m_conn) == 1;
    std::vector<PgResult> results;
    std::string first_error = sent ? "" : std::string(trim(PQerrorMessage(m_conn)));
    // Every statement's result, each followed by a null; then the sync's.
    for (size_t i = 0; sent && i < statements.size(); ++i) {
        PgResult r(PQgetResult(m_conn));
        const ExecStatusType status = PQresultStatus(r.raw());
        if (r.raw() == nullptr) {
            first_error = first_error.empty() ? "the connection was lost" : first_error;
            sent = false;
            break;
        }
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && first_error.empty()) {
            first_error = status == PGRES_PIPELINE_ABORTED
                              ? "aborted"
                              : std::string(trim(PQresultErrorMessage(r.raw())));
        }
        results.push_back(std::move(r));
        while (PGresult* extra = PQgetResult(m_conn)) {
            PQclear(extra);
        }
    }
    if (sent) {
        PgResult sync(PQgetResult(m_conn));  // PGRES_PIPELINE_SYNC
    }
    (void)PQexitPipelineMode(m_conn);
    if (!first_error.empty() && PQstatus(m_conn) != CONNECTION_OK) {
        return fail(unreachable(what));
    }
    if (!first_error.empty()) {
        return error(first_error);
    }
    return results;
}

Result<std::vector<LogLine>> PgStore::get_log(std::string_view run_id, std::string_view step_id) {
    const std::string sql = std::string("SELECT ") + k_line_columns +
                            " FROM log_lines WHERE run_id = $1 AND step_id = $2 ORDER BY seq";
    auto q = exec("reading log lines", sql.c_str(), {run_id, step_id});
    if (!q) {
        return fail(q.error());
    }
    return read_lines(*q);
}

Result<std::vector<std::string>> PgStore::steps_with_logs(std::string_view run_id) {
    auto q =
        exec("reading which steps have logs",
             "SELECT DISTINCT step_id FROM log_lines WHERE run_id = $1 ORDER BY step_id", {run_id});
    if (!q) {
        return fail(q.error());
    }
    std::vector<std::string> out;
    out.reserve(static_cast<size_t>(q->rows()));
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(q->text(i, 0));
    }
    return out;
}

Result<std::vector<LogLine>> PgStore::log_lines_since(int64_t after_seq, int limit,
                                                      std::string_view run_id) {
    if (run_id.empty()) {
        const std::string sql = std::string("SELECT ") + k_line_columns +
                                " FROM log_lines WHERE seq > $1 ORDER BY seq LIMIT $2";
        auto q = exec("reading log lines", sql.c_str(), {num(after_seq), num(limit)});
        if (!q) {
            return fail(q.error());
        }
        return read_lines(*q);
    }
    const std::string sql = std::string("SELECT ") + k_line_columns +
                            " FROM log_lines WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
    auto q = exec("reading log lines", sql.c_str(), {run_id, num(after_seq), num(limit)});
    if (!q) {
        return fail(q.error());
    }
    return read_lines(*q);
}

Result<std::vector<Event>> PgStore::events_since(int64_t after_seq, int limit,
                                                 std::string_view run_id) {
    auto q = run_id.empty()
                 ? exec("reading events",
                        "SELECT seq, at, run_id, step_id, kind, detail FROM events WHERE seq > $1 "
                        "ORDER BY seq LIMIT $2",
                        {num(after_seq), num(limit)})
                 : exec("reading events",
                        "SELECT seq, at, run_id, step_id, kind, detail FROM events WHERE "
                        "run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                        {run_id, num(after_seq), num(limit)});
    if (!q) {
        return fail(q.error());
    }
    std::vector<Event> out;
    out.reserve(static_cast<size_t>(q->rows()));
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(Event{q->integer(i, 0), q->integer(i, 1), q->text(i, 2), q->text(i, 3),
                            q->text(i, 4), q->text(i, 5)});
    }
    return out;
}

Result<ChangeCursor> PgStore::latest_cursor() {
    auto q = exec("reading the newest sequence numbers",
                  "SELECT (SELECT COALESCE(MAX(seq), 0) FROM events), "
                  "(SELECT COALESCE(MAX(seq), 0) FROM log_lines)");
    if (!q) {
        return fail(q.error());
    }
    return ChangeCursor{q->integer(0, 0), q->integer(0, 1)};
}

Result<std::unique_ptr<Store>> PgStore::connect_again() {
    return open_postgres_store(m_uri, m_access);
}

Result<std::unique_ptr<ChangeWaiter>> PgStore::open_change_waiter() {
    return open_postgres_change_waiter(m_uri);
}

int drain_notifications(PGconn* conn) {
    (void)PQconsumeInput(conn);
    int count = 0;
    while (PGnotify* n = PQnotifies(conn)) {
        PQfreemem(n);
        ++count;
    }
    return count;
}

Result<bool> wait_for_input(PgStore& store, std::chrono::milliseconds timeout, int cancel_fd,
                            const std::string& what) {
    PGconn* conn = store.raw_connection();
    pollfd fds[2] = {{PQsocket(conn), POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    const int n = ::poll(fds, cancel_fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
    if (n > 0 && cancel_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
        return true;
    }
    if (n > 0 && PQconsumeInput(conn) == 0) {
        return fail(Errc::store, what + " in the store '" + store.where() +
                                     "': " + std::string(trim(PQerrorMessage(conn))));
    }
    return false;
}

namespace {

class PgChangeWaiter final : public ChangeWaiter {
  public:
    explicit PgChangeWaiter(std::unique_ptr<PgStore> store) : m_store(std::move(store)) {}

    Result<ChangeCursor> wait(const ChangeCursor& known, std::chrono::milliseconds timeout,
                              int cancel_fd) override {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            drain();
            // Read after draining: a write committed since is seen here, or notifies again.
            auto now = m_store->latest_cursor();
            if (!now || !(*now == known)) {
                return now;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return now;
            }
            auto cancelled = wait_for_input(*m_store, left, cancel_fd, "waiting for changes");
            if (!cancelled) {
                return fail(cancelled.error());
            }
            if (*cancelled) {
                return now;
            }
        }
    }

  private:
    void drain() { (void)drain_notifications(m_store->raw_connection()); }
    std::unique_ptr<PgStore> m_store;
};

}  // namespace

}  // namespace pg_detail

Result<std::unique_ptr<ChangeWaiter>> open_postgres_change_waiter(const std::string& uri) {
    auto store = pg_detail::connect_postgres(uri, Access::read_only);
    if (!store) {
        return fail(store.error());
    }
    if (auto st = (*store)->check_schema(); !st) {
        return fail(st.error());
    }
    const std::string listen = "LISTEN " + std::string(pg_detail::k_change_channel);
    if (auto st = (*store)->exec_script("listening for changes", listen.c_str()); !st) {
        return fail(st.error());
    }
    return std::unique_ptr<ChangeWaiter>(
        std::make_unique<pg_detail::PgChangeWaiter>(std::move(*store)));
}

}  // namespace shipshape::store
