// The PostgreSQL store's versioned schema: the migrations and moving a database through them
// (see pg_store.cpp's header for why only `shipshape store migrate` moves it).
#include <cstdlib>
#include <iterator>
#include <string>

#include "store/postgres/pg_db.hpp"
#include "store/postgres/pg_store.hpp"

namespace shipshape::store::pg_detail {

namespace {

// Each entry moves the schema from version i to i + 1. Never edit a released entry: append.
const char* const k_migrations[] = {
    R"sql(
    CREATE TABLE shipshape_schema (version BIGINT NOT NULL);
    INSERT INTO shipshape_schema(version) VALUES (0);
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        checklist_path TEXT NOT NULL,
        checklist_name TEXT NOT NULL,
        checklist_text TEXT NOT NULL,
        env TEXT NOT NULL,
        status TEXT NOT NULL,
        "user" TEXT NOT NULL,
        host TEXT NOT NULL,
        pid BIGINT NOT NULL,
        started_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX runs_by_start ON runs(started_at DESC, id DESC);
    CREATE TABLE run_params (
        run_id TEXT NOT NULL REFERENCES runs(id),
        position BIGINT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_id, position)
    );
    CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs(id),
        step_id TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        exit_code BIGINT NOT NULL,
        detail TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL,
        finish_seq BIGINT NOT NULL,
        undo_state TEXT NOT NULL,
        PRIMARY KEY (run_id, step_id)
    );
    CREATE TABLE check_offs (
        seq BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        step_id TEXT NOT NULL,
        role TEXT NOT NULL,
        "by" TEXT NOT NULL,
        note TEXT NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX check_offs_by_run ON check_offs(run_id, at, seq);
    CREATE TABLE events (
        seq BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        run_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX events_by_run ON events(run_id, seq);
    CREATE TABLE env_locks (
        env TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        pid BIGINT NOT NULL,
        pid_start_ticks BIGINT NOT NULL,
        host TEXT NOT NULL,
        "user" TEXT NOT NULL,
        started_at BIGINT NOT NULL
    );
    CREATE TABLE facts_snapshots (
        id BIGSERIAL PRIMARY KEY,
        host TEXT NOT NULL,
        at BIGINT NOT NULL,
        hash TEXT NOT NULL,
        document TEXT NOT NULL
    );
    CREATE INDEX facts_by_host ON facts_snapshots(host, at);
    CREATE TABLE host_states (
        id BIGSERIAL PRIMARY KEY,
        host TEXT NOT NULL,
        at BIGINT NOT NULL,
        hash TEXT NOT NULL,
        document TEXT NOT NULL
    );
    CREATE INDEX host_states_by_host ON host_states(host, at);
    CREATE TABLE applies (
        host TEXT PRIMARY KEY,
        at BIGINT NOT NULL
    );
    CREATE TABLE applied_params (
        host TEXT NOT NULL REFERENCES applies(host) ON DELETE CASCADE,
        position BIGINT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (host, position)
    );
    )sql",
    R"sql(
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        roles TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        "user" TEXT NOT NULL REFERENCES users(name),
        salt TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX tokens_by_user ON tokens("user", created_at);
    )sql",
    // #15 (h2-live): the lines steps print, numbered apart from events.
    R"sql(
    CREATE TABLE log_lines (
        seq BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        at BIGINT NOT NULL,
        line TEXT NOT NULL
    );
    CREATE INDEX log_lines_by_step ON log_lines(run_id, step_id, seq);
    )sql",
    // #15: the run list's filters (env, checklist, status) read newest first by index.
    R"sql(
    CREATE INDEX runs_by_env ON runs(env, started_at DESC, id DESC);
    CREATE INDEX runs_by_status ON runs(status, started_at DESC, id DESC);
    CREATE INDEX runs_by_checklist ON runs(checklist_name, started_at DESC, id DESC);
    )sql",
    // #17: the hash-chained audit ledger (store/audit.hpp).
    R"sql(
    CREATE TABLE audit (
        seq BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    )sql",
    // #19: the CI queue (store/ci.hpp). Labels are a comma list (join_roles). Commits are
    // compared byte-wise (COLLATE "C"), so that a prefix is a range of the index.
    R"sql(
    CREATE TABLE ci_pipelines (
        id BIGSERIAL PRIMARY KEY,
        repo TEXT NOT NULL,
        ref TEXT NOT NULL,
        commit_id TEXT COLLATE "C" NOT NULL,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX ci_pipelines_by_commit ON ci_pipelines(commit_id, created_at);
    CREATE INDEX ci_pipelines_by_created ON ci_pipelines(created_at DESC, id DESC);
    CREATE TABLE ci_jobs (
        id BIGSERIAL PRIMARY KEY,
        pipeline_id BIGINT NOT NULL REFERENCES ci_pipelines(id),
        name TEXT NOT NULL,
        definition TEXT NOT NULL,
        labels TEXT NOT NULL,
        status TEXT NOT NULL,
        worker TEXT NOT NULL,
        lease_until BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        cancel_requested BOOLEAN NOT NULL,
        run_id TEXT NOT NULL,
        failing TEXT NOT NULL,
        detail TEXT NOT NULL,
        results TEXT NOT NULL,
        queued_at BIGINT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT NOT NULL
    );
    CREATE INDEX ci_jobs_by_status ON ci_jobs(status, id);
    CREATE INDEX ci_jobs_by_pipeline ON ci_jobs(pipeline_id, id);
    )sql",
    // #20: pull reports (store/host_reports.hpp): a summary row per report, and per host the
    // latest report and the facts it sent last.
    R"sql(
    CREATE TABLE host_reports (
        id BIGSERIAL PRIMARY KEY,
        host TEXT NOT NULL,
        run TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        applied_commit TEXT NOT NULL,
        branch TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT NOT NULL,
        received_at BIGINT NOT NULL,
        result TEXT NOT NULL,
        exit_code BIGINT NOT NULL,
        error TEXT NOT NULL,
        resources BIGINT NOT NULL,
        changed BIGINT NOT NULL,
        failed BIGINT NOT NULL,
        drifted BIGINT NOT NULL,
        drift TEXT NOT NULL,
        facts_hash TEXT NOT NULL,
        UNIQUE (host, commit_id, run)
    );
    CREATE INDEX host_reports_by_host ON host_reports(host, id DESC);
    CREATE INDEX host_reports_by_received ON host_reports(received_at);
    CREATE TABLE host_latest (
        host TEXT PRIMARY KEY,
        report_id BIGINT NOT NULL,
        facts_hash TEXT NOT NULL,
        facts TEXT NOT NULL,
        facts_at BIGINT NOT NULL
    );
    )sql",
};

// Any constant will do, as long as it stays the same: the key of the advisory lock that
// serialises migrators of one database.
constexpr const char* k_migration_lock = "7316385113240588623";

}  // namespace

int64_t schema_version() {
    return static_cast<int64_t>(std::size(k_migrations));
}

const char* migration_sql(int64_t from_version) {
    return k_migrations[from_version];
}

Result<int64_t> PgStore::stored_schema_version() {
    auto exists = exec("reading the schema version", "SELECT to_regclass('shipshape_schema')");
    if (!exists) {
        return fail(exists.error());
    }
    if (exists->is_null(0, 0)) {
        return int64_t{0};
    }
    auto q = exec("reading the schema version", "SELECT MAX(version) FROM shipshape_schema");
    if (!q) {
        return fail(q.error());
    }
    const int64_t have = q->integer(0, 0);
    if (have > schema_version()) {
        return fail(Errc::store, "the store '" + m_where + "' has schema version " +
                                     std::to_string(have) + ", newer than this shipshape (" +
                                     std::to_string(schema_version()) + "): upgrade shipshape");
    }
    return have;
}

Result<int64_t> PgStore::migrate() {
    return transaction("migrating the schema", [&]() -> Result<int64_t> {
        const std::string lock =
            std::string("SELECT pg_advisory_xact_lock(") + k_migration_lock + ")";
        if (auto st = exec("migrating the schema", lock.c_str()); !st) {
            return fail(st.error());
        }
        auto have = stored_schema_version();
        if (!have) {
            return have;
        }
        for (int64_t v = *have; v < schema_version(); ++v) {
            if (auto st = exec_script("migrating the schema to version " + std::to_string(v + 1),
                                      k_migrations[v]);
                !st) {
                return fail(st.error());
            }
        }
        if (auto st = exec("migrating the schema", "UPDATE shipshape_schema SET version = $1",
                           {num(schema_version())});
            !st) {
            return fail(st.error());
        }
        return *have;
    });
}

Status PgStore::check_schema() {
    auto have = stored_schema_version();
    if (!have) {
        return fail(have.error());
    }
    if (*have < schema_version()) {
        return fail(Errc::store, "the store '" + m_where + "' has schema version " +
                                     std::to_string(*have) + " and this shipshape needs " +
                                     std::to_string(schema_version()) +
                                     ": run 'shipshape store migrate' to upgrade it");
    }
    return {};
}

}  // namespace shipshape::store::pg_detail
