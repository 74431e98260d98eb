// The SQLite store's versioned schema: the migrations, applied in order by SqliteStore::migrate
// (sqlite_store.cpp) and by the migration tests, which build databases at older versions.
#include <iterator>

#include "store/sqlite/sqlite_db.hpp"

namespace shipshape::store::sqlite_detail {

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
    R"sql(
    CREATE TABLE applies (
        host TEXT PRIMARY KEY,
        at INTEGER NOT NULL
    );
    CREATE TABLE applied_params (
        host TEXT NOT NULL REFERENCES applies(host) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (host, position)
    );
    )sql",
    R"sql(
    ALTER TABLE env_locks ADD COLUMN user TEXT NOT NULL DEFAULT '';
    )sql",
    R"sql(
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        roles TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users(name),
        salt TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX tokens_by_user ON tokens(user, created_at);
    )sql",
    // #15 (h2-live): the lines steps print, numbered apart from events.
    R"sql(
    CREATE TABLE log_lines (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        line TEXT NOT NULL
    );
    CREATE INDEX log_lines_by_step ON log_lines(run_id, step_id, seq);
    )sql",
    // #15: the run list and its filters (env, checklist, status) read newest first by index.
    R"sql(
    CREATE INDEX runs_by_start ON runs(started_at DESC, id DESC);
    CREATE INDEX runs_by_env ON runs(env, started_at DESC, id DESC);
    CREATE INDEX runs_by_status ON runs(status, started_at DESC, id DESC);
    CREATE INDEX runs_by_checklist ON runs(checklist_name, started_at DESC, id DESC);
    )sql",
    // #17: the hash-chained audit ledger (store/audit.hpp).
    R"sql(
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    )sql",
    // #19: the CI queue (store/ci.hpp). Labels are a comma list (join_roles).
    R"sql(
    CREATE TABLE ci_pipelines (
        id INTEGER PRIMARY KEY,
        repo TEXT NOT NULL,
        ref TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX ci_pipelines_by_commit ON ci_pipelines(commit_id, created_at);
    CREATE INDEX ci_pipelines_by_created ON ci_pipelines(created_at DESC, id DESC);
    CREATE TABLE ci_jobs (
        id INTEGER PRIMARY KEY,
        pipeline_id INTEGER NOT NULL REFERENCES ci_pipelines(id),
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        labels TEXT NOT NULL,
        status TEXT NOT NULL,
        worker TEXT NOT NULL,
        lease_until INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        cancel_requested INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        failing TEXT NOT NULL,
        detail TEXT NOT NULL,
        results TEXT NOT NULL,
        queued_at INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL
    );
    CREATE INDEX ci_jobs_by_status ON ci_jobs(status, id);
    CREATE INDEX ci_jobs_by_pipeline ON ci_jobs(pipeline_id, id);
    )sql",
    // #20: pull reports (store/host_reports.hpp): a summary row per report, and per host the
    // latest report and the facts it sent last.
    R"sql(
    CREATE TABLE host_reports (
        id INTEGER PRIMARY KEY,
        host TEXT NOT NULL,
        run TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        applied_commit TEXT NOT NULL,
        branch TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        result TEXT NOT NULL,
        exit_code INTEGER NOT NULL,
        error TEXT NOT NULL,
        resources INTEGER NOT NULL,
        changed INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        drifted INTEGER NOT NULL,
        drift TEXT NOT NULL,
        facts_hash TEXT NOT NULL,
        UNIQUE (host, commit_id, run)
    );
    CREATE INDEX host_reports_by_host ON host_reports(host, id DESC);
    CREATE INDEX host_reports_by_received ON host_reports(received_at);
    CREATE TABLE host_latest (
        host TEXT PRIMARY KEY,
        report_id INTEGER NOT NULL,
        facts_hash TEXT NOT NULL,
        facts TEXT NOT NULL,
        facts_at INTEGER NOT NULL
    );
    )sql",
};

}  // namespace

int64_t schema_version() {
    return static_cast<int64_t>(std::size(k_migrations));
}

const char* migration_sql(int64_t from_version) {
    return k_migrations[from_version];
}

}  // namespace shipshape::store::sqlite_detail
