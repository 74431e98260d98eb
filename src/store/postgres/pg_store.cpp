// The PostgreSQL store (see store/store.hpp for the contract): runs with their journal (the
// versioned schema in pg_schema.cpp). The schema version lives in the one-row table
// shipshape_schema and is moved forward only by migrate() (`shipshape store migrate`): on a shared
// database a command that quietly upgraded the schema would break every older shipshape of the team
// at once, so an ordinary open refuses an older schema and says to migrate, and refuses a newer one
// too.
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <utility>

#include "core/text.hpp"
#include "store/audit.hpp"
#include "store/postgres/pg_db.hpp"
#include "store/postgres/pg_store.hpp"

namespace shipshape::store {

namespace pg_detail {

namespace {

// Writes a step's record; finish_seq $10 = -1 numbers it after the run's completed steps.
// Returns the finish_seq written.
constexpr const char* k_step_upsert =
    "INSERT INTO steps(run_id, step_id, state, attempts, exit_code, detail, started_at, "
    "finished_at, duration_ms, finish_seq, undo_state) "
    "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,CASE WHEN $10::BIGINT < 0 THEN (SELECT "
    "COALESCE(MAX(finish_seq), 0) + 1 FROM steps WHERE run_id = $1) ELSE $10::BIGINT END,$11) "
    "ON CONFLICT (run_id, step_id) DO UPDATE SET state = EXCLUDED.state, "
    "attempts = EXCLUDED.attempts, exit_code = EXCLUDED.exit_code, "
    "detail = EXCLUDED.detail, started_at = EXCLUDED.started_at, "
    "finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms, "
    "finish_seq = EXCLUDED.finish_seq, undo_state = EXCLUDED.undo_state RETURNING finish_seq";

constexpr const char* k_run_columns =
    "id, checklist_path, checklist_name, checklist_text, env, status, \"user\", host, pid, "
    "started_at, updated_at";
// The same columns, without the checklist's text (read_run reads it as "").
constexpr const char* k_brief_run_columns =
    "id, checklist_path, checklist_name, '', env, status, \"user\", host, pid, started_at, "
    "updated_at";

RunRecord read_run(const PgResult& q, int row) {
    RunRecord r;
    r.id = q.text(row, 0);
    r.checklist_path = q.text(row, 1);
    r.checklist_name = q.text(row, 2);
    r.checklist_text = q.text(row, 3);
    r.env = q.text(row, 4);
    r.status = q.text(row, 5);
    r.user = q.text(row, 6);
    r.host = q.text(row, 7);
    r.pid = q.integer(row, 8);
    r.started_at = q.integer(row, 9);
    r.updated_at = q.integer(row, 10);
    return r;
}

}  // namespace

int64_t PgResult::integer(int row, int col) const {
    return std::strtoll(PQgetvalue(m_r, row, col), nullptr, 10);
}

int64_t PgResult::affected() const {
    return std::strtoll(PQcmdTuples(m_r), nullptr, 10);
}

Status PgStore::insert_event(const Event& e) {
    // Readers of the live stream go by seq: the lock makes writers take turns until they
    // commit, so sequence numbers become visible in order (no gap fills later). The
    // notification reaches listeners when the transaction commits.
    if (auto st = exec("appending an event", k_events_lock_and_notify); !st) {
        return fail(st.error());
    }
    auto r = exec("appending an event",
                  "INSERT INTO events(at, run_id, step_id, kind, detail) VALUES($1,$2,$3,$4,$5)",
                  {num(e.at), e.run_id, e.step_id, e.kind, e.detail});
    if (!r) {
        return fail(r.error());
    }
    return {};
}

Status PgStore::create_run(const RunRecord& run) {
    const std::string what = "creating run " + run.id;
    return transaction(what, [&]() -> Status {
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
            return fail(Errc::already_exists, "run " + run.id + " already exists");
        }
        int64_t position = 0;
        for (const auto& [k, v] : run.params) {
            auto p = exec("storing params of run " + run.id,
                          "INSERT INTO run_params(run_id, position, name, value) "
                          "VALUES($1,$2,$3,$4)",
                          {run.id, num(position++), k, v});
            if (!p) {
                return fail(p.error());
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

Result<std::vector<std::pair<std::string, std::string>>> PgStore::read_params(
    const std::string& what, const char* sql, std::string_view key) {
    auto q = exec(what, sql, {key});
    if (!q) {
        return fail(q.error());
    }
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(static_cast<size_t>(q->rows()));
    for (int i = 0; i < q->rows(); ++i) {
        out.emplace_back(q->text(i, 0), q->text(i, 1));
    }
    return out;
}

Result<RunRecord> PgStore::get_run(std::string_view id) {
    const std::string sql = std::string("SELECT ") + k_run_columns + " FROM runs WHERE id = $1";
    auto q = exec("reading run " + std::string(id), sql.c_str(), {id});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return fail(Errc::not_found, "no run '" + std::string(id) + "' (see 'shipshape runs')");
    }
    RunRecord run = read_run(*q, 0);
    auto params =
        read_params("reading params of run " + run.id,
                    "SELECT name, value FROM run_params WHERE run_id = $1 ORDER BY position", id);
    if (!params) {
        return fail(params.error());
    }
    run.params = std::move(*params);
    return run;
}

Result<std::vector<RunRecord>> PgStore::list_runs(const RunFilter& filter) {
    // Only the conditions asked for are in the SQL, so the planner sees each shape as it is.
    std::string where;
    std::vector<std::string> values;
    const std::pair<const char*, const std::string*> conditions[] = {
        {"env", &filter.env}, {"checklist_name", &filter.checklist}, {"status", &filter.status}};
    for (const auto& [column, value] : conditions) {
        if (!value->empty()) {
            values.push_back(*value);
            where += values.size() == 1 ? " WHERE " : " AND ";
            where += std::string(column) + " = $" + std::to_string(values.size());
        }
    }
    values.push_back(num(filter.limit));
    const std::string selected = " FROM runs" + where +
                                 " ORDER BY started_at DESC, id DESC LIMIT $" +
                                 std::to_string(values.size());
    // Two round trips whatever the number of runs: the runs, then all their params.
    const std::string sql =
        std::string("SELECT ") + (filter.brief ? k_brief_run_columns : k_run_columns) + selected;
    auto q = exec_values("listing runs", sql.c_str(), values);
    if (!q) {
        return fail(q.error());
    }
    std::vector<RunRecord> out;
    out.reserve(static_cast<size_t>(q->rows()));
    std::map<std::string, size_t> index;
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(read_run(*q, i));
        index.emplace(out.back().id, out.size() - 1);
    }
    if (out.empty() || filter.brief) {
        return out;
    }
    const std::string params_sql =
        "SELECT run_id, name, value FROM run_params WHERE run_id IN (SELECT id" + selected +
        ") ORDER BY run_id, position";
    auto p = exec_values("reading params of runs", params_sql.c_str(), values);
    if (!p) {
        return fail(p.error());
    }
    for (int i = 0; i < p->rows(); ++i) {
        if (auto it = index.find(p->text(i, 0)); it != index.end()) {
            out[it->second].params.emplace_back(p->text(i, 1), p->text(i, 2));
        }
    }
    return out;
}

Status PgStore::update_run(std::string_view id, std::string_view status, int64_t pid, int64_t at) {
    const std::string what = "updating run " + std::string(id);
    return transaction(what, [&]() -> Status {
        auto q = exec(what, "UPDATE runs SET status = $1, pid = $2, updated_at = $3 WHERE id = $4",
                      {status, num(pid), num(at), id});
        if (!q) {
            return fail(q.error());
        }
        if (q->affected() == 0) {
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
        auto user = exec(what, "SELECT \"user\" FROM runs WHERE id = $1", {id});
        if (!user) {
            return fail(user.error());
        }
        if (auto audited = insert_audit(run_ended_audit(id, status, at, user->text(0, 0)));
            !audited) {
            return fail(audited.error());
        }
        return {};
    });
}

Result<std::vector<StepRecord>> PgStore::get_steps(std::string_view run_id) {
    auto q = exec("reading steps of run " + std::string(run_id),
                  "SELECT step_id, state, attempts, exit_code, detail, started_at, finished_at, "
                  "duration_ms, finish_seq, undo_state FROM steps WHERE run_id = $1",
                  {run_id});
    if (!q) {
        return fail(q.error());
    }
    std::vector<StepRecord> out;
    out.reserve(static_cast<size_t>(q->rows()));
    for (int i = 0; i < q->rows(); ++i) {
        StepRecord s;
        s.run_id = std::string(run_id);
        s.step_id = q->text(i, 0);
        s.state = q->text(i, 1);
        s.attempts = static_cast<int>(q->integer(i, 2));
        s.exit_code = static_cast<int>(q->integer(i, 3));
        s.detail = q->text(i, 4);
        s.started_at = q->integer(i, 5);
        s.finished_at = q->integer(i, 6);
        s.duration_ms = q->integer(i, 7);
        s.finish_seq = q->integer(i, 8);
        s.undo_state = q->text(i, 9);
        out.push_back(std::move(s));
    }
    return out;
}

Result<int64_t> PgStore::write_step(const StepRecord& s) {
    const std::string what = "recording step " + s.step_id;
    int64_t seq = s.finish_seq;
    if (seq < 0) {
        // Another process (a check-off) may number a step of the same run at the same time: the
        // run's row lock makes the two take turns.
        if (auto lock = exec(what, "SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", {s.run_id});
            !lock) {
            return fail(lock.error());
        }
        auto q = exec(what, "SELECT COALESCE(MAX(finish_seq), 0) + 1 FROM steps WHERE run_id = $1",
                      {s.run_id});
        if (!q) {
            return fail(q.error());
        }
        seq = q->integer(0, 0);
    }
    auto q =
        exec(what,
             "INSERT INTO steps(run_id, step_id, state, attempts, exit_code, detail, "
             "started_at, finished_at, duration_ms, finish_seq, undo_state) "
             "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) "
             "ON CONFLICT (run_id, step_id) DO UPDATE SET state = EXCLUDED.state, "
             "attempts = EXCLUDED.attempts, exit_code = EXCLUDED.exit_code, "
             "detail = EXCLUDED.detail, started_at = EXCLUDED.started_at, "
             "finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms, "
             "finish_seq = EXCLUDED.finish_seq, undo_state = EXCLUDED.undo_state",
             {s.run_id, s.step_id, s.state, num(s.attempts), num(s.exit_code), s.detail,
              num(s.started_at), num(s.finished_at), num(s.duration_ms), num(seq), s.undo_state});
    if (!q) {
        return fail(q.error());
    }
    return seq;
}

Result<int64_t> PgStore::record_step(const StepRecord& step, const Event& event,
                                     Durability durability) {
    // One transaction per step event, sent as one pipeline (one round trip, not seven). A
    // relaxed write skips waiting for the WAL flush: it is still ordered before every later
    // commit, and lost only if the server itself crashes. A completed step's finish_seq is
    // numbered in SQL, under the run's row lock (a check-off may number one at the same time).
    const std::string what = "recording step " + step.step_id;
    const bool numbered = step.finish_seq < 0;
    std::vector<Piped> statements;
    statements.push_back({"BEGIN", {}});
    if (durability == Durability::relaxed) {
        statements.push_back({"SET LOCAL synchronous_commit = off", {}});
    }
    if (numbered) {
        statements.push_back({"SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", {step.run_id}});
    }
    const size_t upsert_index = statements.size();
    statements.push_back(
        {k_step_upsert,
         {step.run_id, step.step_id, step.state, num(step.attempts), num(step.exit_code),
          step.detail, num(step.started_at), num(step.finished_at), num(step.duration_ms),
          numbered ? std::string("-1") : num(step.finish_seq), step.undo_state}});
    statements.push_back({k_events_lock_and_notify, {}});
    statements.push_back(
        {"INSERT INTO events(at, run_id, step_id, kind, detail) VALUES($1,$2,$3,$4,$5)",
         {num(event.at), event.run_id, event.step_id, event.kind, event.detail}});
    // A completed step is audited (store/audit.hpp): the ledger's turn, its head and the run's
    // user come back with the first round trip; the chained entry and COMMIT are the second.
    if (numbered) {
        statements.push_back({k_audit_lock, {}});
        statements.push_back({k_audit_head, {}});
        statements.push_back({"SELECT \"user\" FROM runs WHERE id = $1", {step.run_id}});
    } else {
        statements.push_back({"COMMIT", {}});
    }
    auto results = pipeline(what, statements);
    if (!results) {
        (void)exec(what, "ROLLBACK");
        return fail(results.error());
    }
    const PgResult& upserted = (*results)[upsert_index];
    const int64_t finish_seq = upserted.rows() == 1 ? upserted.integer(0, 0) : int64_t{0};
    if (numbered) {
        const PgResult& head_rows = (*results)[statements.size() - 2];
        const PgResult& user_rows = (*results)[statements.size() - 1];
        AuditEntry head;
        if (head_rows.rows() == 1) {
            read_audit_row(head_rows, 0, head);
        }
        const AuditEntry chained =
            chain_audit_entry(step_audit(step, user_rows.rows() == 1 ? user_rows.text(0, 0) : ""),
                              head_rows.rows() == 1 ? &head : nullptr);
        // The transaction is still open: a connection lost now must fail it, not be reset and
        // commit the entry alone (see reconnect_if_broken).
        m_in_transaction = true;
        auto committed =
            pipeline(what, {{k_audit_insert, audit_insert_params(chained)}, {"COMMIT", {}}});
        if (!committed) {
            (void)exec(what, "ROLLBACK");
            m_in_transaction = false;
            return fail(committed.error());
        }
        m_in_transaction = false;
    }
    return finish_seq;
}

Status PgStore::add_check_off(const CheckOff& c) {
    const std::string what = "recording a check-off";
    return transaction(what, [&]() -> Status {
        auto q = exec(what,
                      "INSERT INTO check_offs(run_id, step_id, role, \"by\", note, at) "
                      "VALUES($1,$2,$3,$4,$5,$6)",
                      {c.run_id, c.step_id, c.role, c.by, c.note, num(c.at)});
        if (!q) {
            return fail(q.error());
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

Result<std::vector<CheckOff>> PgStore::get_check_offs(std::string_view run_id) {
    auto q = exec("reading check-offs",
                  "SELECT step_id, role, \"by\", note, at FROM check_offs WHERE run_id = $1 "
                  "ORDER BY at, seq",
                  {run_id});
    if (!q) {
        return fail(q.error());
    }
    std::vector<CheckOff> out;
    out.reserve(static_cast<size_t>(q->rows()));
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(CheckOff{std::string(run_id), q->text(i, 0), q->text(i, 1), q->text(i, 2),
                               q->text(i, 3), q->integer(i, 4)});
    }
    return out;
}

Status PgStore::append_event(const Event& event) {
    return transaction("appending an event", [&]() -> Status { return insert_event(event); });
}

Result<std::vector<Event>> PgStore::get_events(std::string_view run_id) {
    auto q = exec("reading events",
                  "SELECT seq, at, step_id, kind, detail FROM events WHERE run_id = $1 "
                  "ORDER BY seq",
                  {run_id});
    if (!q) {
        return fail(q.error());
    }
    std::vector<Event> out;
    out.reserve(static_cast<size_t>(q->rows()));
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(Event{q->integer(i, 0), q->integer(i, 1), std::string(run_id), q->text(i, 2),
                            q->text(i, 3), q->text(i, 4)});
    }
    return out;
}

}  // namespace pg_detail

}  // namespace shipshape::store
