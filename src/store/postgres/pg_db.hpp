// Internal to store/postgres/: the PostgreSQL store's class and its libpq helpers, shared by
// pg_store.cpp (connecting, the versioned schema, runs and their journal) and pg_hosts.cpp
// (facts, state reports, applied parameters, environment locks). The only header that includes
// libpq-fe.h.
//
// A PgStore owns one connection; it is used from one thread at a time (see store.hpp). When the
// server drops the connection (restarted, or the network cut), the statement that finds out
// fails with Errc::unreachable and the next one outside a transaction reconnects (a read that
// found out is retried once on the new connection; a write is not, as it may have committed). Every
// statement is sent with PQexecParams: parameters travel apart from the SQL text (no quoting of
// values anywhere) and results come back as text, parsed here.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace shipshape::store::pg_detail {

// The schema version this shipshape writes, and the SQL that moves a database from
// `from_version` to the next (0 <= from_version < schema_version()).
int64_t schema_version();
const char* migration_sql(int64_t from_version);

// One PGresult, freed on destruction.
class PgResult {
  public:
    explicit PgResult(PGresult* r) : m_r(r) {}
    PgResult(PgResult&& other) noexcept : m_r(std::exchange(other.m_r, nullptr)) {}
    PgResult& operator=(PgResult&&) = delete;
    PgResult(const PgResult&) = delete;
    PgResult& operator=(const PgResult&) = delete;
    ~PgResult() { PQclear(m_r); }

    PGresult* raw() const { return m_r; }
    int rows() const { return PQntuples(m_r); }
    std::string text(int row, int col) const { return PQgetvalue(m_r, row, col); }
    int64_t integer(int row, int col) const;
    bool is_null(int row, int col) const { return PQgetisnull(m_r, row, col) != 0; }
    // Rows an INSERT, UPDATE or DELETE touched.
    int64_t affected() const;

  private:
    PGresult* m_r;
};

class PgStore final : public Store {
  public:
    // Takes ownership of `conn` (connected). `where` names the store in messages (no password).
    PgStore(PGconn* conn, std::string where) : m_conn(conn), m_where(std::move(where)) {}
    PgStore(const PgStore&) = delete;
    PgStore& operator=(const PgStore&) = delete;
    ~PgStore() override { PQfinish(m_conn); }

    // The stored schema version (0 for a database shipshape never migrated). Errc::store when it
    // is newer than this shipshape.
    [[nodiscard]] Result<int64_t> stored_schema_version() override;
    // Applies every missing migration in one transaction, serialised against other migrators by
    // an advisory lock. Returns the version found before.
    [[nodiscard]] Result<int64_t> migrate();
    // Errc::store unless the schema is exactly this shipshape's (older: run `store migrate`).
    [[nodiscard]] Status check_schema();

    [[nodiscard]] Status create_run(const RunRecord& run) override;
    [[nodiscard]] Result<RunRecord> get_run(std::string_view id) override;
    using RunStore::list_runs;
    [[nodiscard]] Result<std::vector<RunRecord>> list_runs(const RunFilter& filter) override;
    [[nodiscard]] Status update_run(std::string_view id, std::string_view status, int64_t pid,
                                    int64_t at) override;
    [[nodiscard]] Result<std::vector<StepRecord>> get_steps(std::string_view run_id) override;
    [[nodiscard]] Result<int64_t> record_step(const StepRecord& step, const Event& event,
                                              Durability durability) override;
    [[nodiscard]] Status add_check_off(const CheckOff& check_off) override;
    [[nodiscard]] Result<std::vector<CheckOff>> get_check_offs(std::string_view run_id) override;
    [[nodiscard]] Status append_event(const Event& event) override;
    [[nodiscard]] Result<std::vector<Event>> get_events(std::string_view run_id) override;

    // pg_logs.cpp (#15, h2-live)
    [[nodiscard]] Status append_log_lines(const std::vector<LogLine>& batch) override;
    [[nodiscard]] Result<std::vector<LogLine>> get_log(std::string_view run_id,
                                                       std::string_view step_id) override;
    [[nodiscard]] Result<std::vector<std::string>> steps_with_logs(
        std::string_view run_id) override;
    [[nodiscard]] Result<std::vector<Event>> events_since(int64_t after_seq, int limit,
                                                          std::string_view run_id) override;
    [[nodiscard]] Result<std::vector<LogLine>> log_lines_since(int64_t after_seq, int limit,
                                                               std::string_view run_id) override;
    [[nodiscard]] Result<ChangeCursor> latest_cursor() override;
    [[nodiscard]] Result<std::unique_ptr<Store>> connect_again() override;
    [[nodiscard]] Result<std::unique_ptr<ChangeWaiter>> open_change_waiter() override;
    // What connect_again connects to (the URI with its password) and how.
    void set_origin(std::string uri, Access access) {
        m_uri = std::move(uri);
        m_access = access;
    }

    [[nodiscard]] Result<int64_t> save_facts(const FactsSnapshot& snapshot) override;
    [[nodiscard]] Result<FactsSnapshot> get_facts(int64_t id) override;
    [[nodiscard]] Result<std::vector<FactsSnapshot>> list_facts(std::string_view host,
                                                                int limit) override;
    [[nodiscard]] Result<int64_t> save_host_state(const FactsSnapshot& report) override;
    [[nodiscard]] Result<std::optional<FactsSnapshot>> latest_host_state(
        std::string_view host) override;
    [[nodiscard]] Status save_applied_params(const AppliedParams& params) override;
    [[nodiscard]] Result<std::optional<AppliedParams>> applied_params(
        std::string_view host) override;

    [[nodiscard]] Result<LockResult> acquire_env_lock(
        const LockHolder& me, const std::function<bool(const LockHolder&)>& is_stale) override;
    [[nodiscard]] Status release_env_lock(std::string_view env, std::string_view run_id) override;
    [[nodiscard]] Status create_user(const UserRecord& user) override;
    [[nodiscard]] Result<UserRecord> get_user(std::string_view name) override;
    [[nodiscard]] Result<std::vector<UserRecord>> list_users() override;
    [[nodiscard]] Status set_roles(std::string_view name,
                                   const std::vector<std::string>& roles) override;
    [[nodiscard]] Status add_token(const TokenRecord& token) override;
    [[nodiscard]] Result<TokenRecord> get_token(std::string_view id) override;
    [[nodiscard]] Result<std::vector<TokenRecord>> list_tokens(std::string_view user) override;
    [[nodiscard]] Status touch_token(std::string_view id, int64_t at) override;
    [[nodiscard]] Result<int64_t> revoke_tokens(std::string_view user) override;

    [[nodiscard]] Result<std::vector<FactsSnapshot>> list_host_states(std::string_view host,
                                                                      int limit) override;
    [[nodiscard]] Result<bool> import_run(const RunBundle& bundle) override;
    [[nodiscard]] Result<std::vector<AppliedParams>> list_applied_params() override;
    [[nodiscard]] Result<bool> import_facts(const FactsSnapshot& snapshot) override;
    [[nodiscard]] Result<bool> import_host_state(const FactsSnapshot& report) override;
    // pg_audit.cpp (#17)
    [[nodiscard]] Result<AuditEntry> append_audit(const AuditEntry& entry) override;
    [[nodiscard]] Result<std::optional<AuditEntry>> audit_head() override;
    [[nodiscard]] Status scan_audit(int64_t after_seq,
                                    const std::function<bool(const AuditEntry&)>& fn) override;
    [[nodiscard]] Result<int64_t> import_audit(const std::vector<AuditEntry>& batch) override;
    // pg_ci.cpp (#19)
    [[nodiscard]] Result<int64_t> enqueue_ci_pipeline(const CiPipeline& pipeline) override;
    [[nodiscard]] Result<std::optional<CiJob>> claim_ci_job(const CiClaim& claim) override;
    [[nodiscard]] Result<CiLease> renew_ci_lease(int64_t job_id, std::string_view worker,
                                                 int64_t until) override;
    [[nodiscard]] Status set_ci_job_run(int64_t job_id, std::string_view worker,
                                        std::string_view run_id) override;
    [[nodiscard]] Result<bool> finish_ci_job(const CiFinish& finish) override;
    [[nodiscard]] Result<int64_t> cancel_ci(int64_t pipeline_id, std::string_view job_name,
                                            int64_t at) override;
    [[nodiscard]] Result<CiPipeline> get_ci_pipeline(int64_t id) override;
    [[nodiscard]] Result<CiJob> get_ci_job(int64_t id) override;
    [[nodiscard]] Result<std::vector<CiPipeline>> find_ci_pipelines(
        const CiFilter& filter) override;
    [[nodiscard]] Result<std::vector<CiPipeline>> prune_ci(int64_t before) override;
    [[nodiscard]] Status wait_for_ci_work(std::chrono::milliseconds timeout) override;
    // pg_host_reports.cpp (#20)
    [[nodiscard]] Result<RecordedReport> record_report(const HostReportRecord& report) override;
    [[nodiscard]] Result<std::vector<HostReportRecord>> latest_reports() override;
    [[nodiscard]] Result<std::vector<HostReportRecord>> host_reports(std::string_view host,
                                                                     int limit) override;
    [[nodiscard]] Result<std::optional<HostReportRecord>> host_facts(
        std::string_view host) override;
    [[nodiscard]] Result<int64_t> prune_reports(int64_t before) override;

    // Runs `sql` with text parameters $1, $2, ... Errc::store naming `what` and the server's
    // message when it fails.
    [[nodiscard]] Result<PgResult> exec(const std::string& what, const char* sql,
                                        std::initializer_list<std::string_view> params = {});

    // The same with the parameters in a vector, for SQL built at run time.
    [[nodiscard]] Result<PgResult> exec_values(const std::string& what, const char* sql,
                                               const std::vector<std::string>& params);
    // Sends `statements` (SQL and text parameters) in one pipeline -- one round trip -- and
    // returns their results in order. The first failure is returned (Errc::store naming `what`);
    // the server skips the statements after it. The caller sends BEGIN and COMMIT among them
    // and, when it fails, ROLLBACK.
    struct Piped {
        const char* sql;
        std::vector<std::string> params;
    };
    [[nodiscard]] Result<std::vector<PgResult>> pipeline(const std::string& what,
                                                         const std::vector<Piped>& statements);

    // Runs `script` (several statements, no parameters: a migration, the session's settings).
    [[nodiscard]] Status exec_script(const std::string& what, const char* script);

    // Runs `body` between BEGIN and COMMIT; a failure of `body` (or of COMMIT) rolls back.
    template <typename Body>
    auto transaction(const std::string& what, Body body) -> decltype(body()) {
        if (auto st = exec(what, "BEGIN"); !st) {
            return fail(st.error());
        }
        m_in_transaction = true;
        auto r = body();
        if (!r) {
            (void)exec(what, "ROLLBACK");
            m_in_transaction = false;
            return r;
        }
        if (auto st = exec(what, "COMMIT"); !st) {
            (void)exec(what, "ROLLBACK");
            m_in_transaction = false;
            return fail(st.error());
        }
        m_in_transaction = false;
        return r;
    }

    // Runs `script` now and again after every reconnect: the session's settings.
    [[nodiscard]] Status set_session(std::string script);

  private:
    [[nodiscard]] Status insert_event(const Event& event);
    // Appends `entry` to the ledger inside the caller's transaction: takes the ledger's advisory
    // lock (held to the commit, so writers take turns and the chain never forks), reads the
    // head, chains and inserts. Every audited journal write calls it last in its transaction.
    [[nodiscard]] Result<AuditEntry> insert_audit(const AuditEntry& entry);
    // Snapshot rows (id, host, at, hash, document) of `sql`, which takes $1 = host, $2 = limit.
    [[nodiscard]] Result<std::vector<FactsSnapshot>> list_snapshots(const char* what,
                                                                    const char* sql,
                                                                    std::string_view host,
                                                                    int limit);
    // Inserts log lines (their run_id, step_id, at, line; seq is assigned) inside the caller's
    // transaction, taking the log lock and notifying as append_log_lines does.
    [[nodiscard]] Status insert_log_lines(const std::string& what,
                                          const std::vector<LogLine>& batch);
    [[nodiscard]] Result<int64_t> write_step(const StepRecord& step);
    [[nodiscard]] Result<bool> import_snapshot(const char* table, const FactsSnapshot& snapshot);
    // Locks the pipeline's row and stores the status derived from its jobs (ci_pipeline_status),
    // inside the caller's transaction; `at` is its updated_at. Locking the row first makes
    // concurrent finishers of one pipeline's jobs take turns, each reading the other's job.
    [[nodiscard]] Status refresh_ci_pipeline(int64_t pipeline_id, int64_t at);
    // The jobs of the pipelines `ids` (a PostgreSQL array literal, "{1,2}"), by id.
    [[nodiscard]] Result<std::vector<CiJob>> ci_jobs_of(const std::string& ids);
    [[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> read_params(
        const std::string& what, const char* sql, std::string_view key);

    // A connection the server dropped (a restart, a network cut) is reset before the next
    // statement, outside a transaction only: a transaction cut in the middle fails as a whole.
    // Errc::unreachable ("store URI unreachable: ...") when the server still cannot be reached.
    [[nodiscard]] Status reconnect_if_broken();
    [[nodiscard]] Error unreachable(const std::string& what) const;

    PGconn* m_conn;
    std::string m_where;
    std::string m_session;
    bool m_in_transaction = false;
    std::string m_uri;
    Access m_access = Access::read_write;
    bool m_listening_ci = false;  // wait_for_ci_work sent LISTEN on this connection

  public:
    PGconn* raw_connection() const { return m_conn; }
    const std::string& where() const { return m_where; }
};

// The channel every write of an event or log line notifies (in its transaction), and the
// statements that take the writers' turn and notify: the events' and the log lines' own
// advisory locks (see insert_event).
inline constexpr const char* k_change_channel = "shipshape_changes";
inline constexpr const char* k_events_lock_and_notify =
    "SELECT pg_advisory_xact_lock(7316385113240588624), pg_notify('shipshape_changes', '')";
// The audit ledger's writers' turn (see insert_audit): always the last lock a transaction takes.
inline constexpr const char* k_audit_lock = "SELECT pg_advisory_xact_lock(7316385113240588626)";
// The ledger's newest entry (columns of read_audit_row), and inserting one ($1..$8 as there).
inline constexpr const char* k_audit_head =
    "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit "
    "ORDER BY seq DESC LIMIT 1";
inline constexpr const char* k_audit_insert =
    "INSERT INTO audit(seq, at, kind, actor, subject, detail, prev_hash, hash) "
    "VALUES($1,$2,$3,$4,$5,$6,$7,$8)";
// Reads row `row` of an audit query (seq, at, kind, actor, subject, detail, prev_hash, hash)
// into `e`; the parameters of k_audit_insert for `e`.
void read_audit_row(const PgResult& q, int row, AuditEntry& e);
std::vector<std::string> audit_insert_params(const AuditEntry& e);
inline constexpr const char* k_log_lock_and_notify =
    "SELECT pg_advisory_xact_lock(7316385113240588625), pg_notify('shipshape_changes', '')";

// Consumes what the server sent on `conn` and drops the notifications received; returns how
// many there were.
int drain_notifications(PGconn* conn);
// Waits until `conn`'s socket is readable (then consumes its input), `cancel_fd` (when >= 0) is,
// or `timeout` passes. Returns whether `cancel_fd` became readable; Errc::store naming `what`
// when the connection failed.
[[nodiscard]] Result<bool> wait_for_input(PgStore& store, std::chrono::milliseconds timeout,
                                          int cancel_fd, const std::string& what);

// The channel enqueue_ci_pipeline notifies in its transaction (wait_for_ci_work LISTENs).
inline constexpr const char* k_ci_channel = "shipshape_ci";

// Connects to `uri` with the session settings every shipshape connection gets (pg_open.cpp).
[[nodiscard]] Result<std::unique_ptr<PgStore>> connect_postgres(const std::string& uri,
                                                                Access access);

inline std::string num(int64_t v) {
    return std::to_string(v);
}

}  // namespace shipshape::store::pg_detail
