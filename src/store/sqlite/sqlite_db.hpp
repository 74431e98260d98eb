// Internal to store/sqlite/: the SQLite store's class and its statement helpers, shared by
// sqlite_store.cpp (opening, migrations, runs and their journal) and sqlite_hosts.cpp (facts,
// state reports, applied parameters, locks). The only header that includes sqlite3.h.
//
// A SqliteStore owns one connection (opened FULLMUTEX) and its prepared statements; it is used
// from one thread at a time (see store.hpp).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "store/store.hpp"

namespace shipshape::store::sqlite_detail {

// The schema version this shipshape writes, and the SQL that moves a database from
// `from_version` to the next (0 <= from_version < schema_version()). Tests build databases at
// older versions with them.
int64_t schema_version();
const char* migration_sql(int64_t from_version);

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
    bool is_null(int col) const { return sqlite3_column_type(m_stmt, col) == SQLITE_NULL; }

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
    // For a store opened read-only (why: `reason`, e.g. "a read-only file system"): nothing is
    // written; the schema must be the current one (Errc::store says why not). Every later write
    // fails with a message that names the reason.
    void set_read_only(std::string reason) { m_read_only = std::move(reason); }
    Status check_schema_read_only();
    // The schema version the file holds; Errc::store when it is newer than this shipshape's.
    Result<int64_t> stored_schema_version() override;

    Status create_run(const RunRecord& run) override;
    Result<RunRecord> get_run(std::string_view id) override;
    using RunStore::list_runs;
    Result<std::vector<RunRecord>> list_runs(const RunFilter& filter) override;
    Status update_run(std::string_view id, std::string_view status, int64_t pid,
                      int64_t at) override;
    Result<std::vector<StepRecord>> get_steps(std::string_view run_id) override;
    Result<int64_t> record_step(const StepRecord& step, const Event& event,
                                Durability durability) override;
    Status add_check_off(const CheckOff& check_off) override;
    Result<std::vector<CheckOff>> get_check_offs(std::string_view run_id) override;
    Status append_event(const Event& event) override;
    Result<std::vector<Event>> get_events(std::string_view run_id) override;
    // sqlite_logs.cpp (#15, h2-live)
    Status append_log_lines(const std::vector<LogLine>& batch) override;
    Result<std::vector<LogLine>> get_log(std::string_view run_id,
                                         std::string_view step_id) override;
    Result<std::vector<std::string>> steps_with_logs(std::string_view run_id) override;
    Result<std::vector<Event>> events_since(int64_t after_seq, int limit,
                                            std::string_view run_id) override;
    Result<std::vector<LogLine>> log_lines_since(int64_t after_seq, int limit,
                                                 std::string_view run_id) override;
    Result<ChangeCursor> latest_cursor() override;
    Result<std::unique_ptr<Store>> connect_again() override;
    Result<std::unique_ptr<ChangeWaiter>> open_change_waiter() override;
    Result<int64_t> save_facts(const FactsSnapshot& snapshot) override;
    Result<FactsSnapshot> get_facts(int64_t id) override;
    Result<std::vector<FactsSnapshot>> list_facts(std::string_view host, int limit) override;
    Result<int64_t> save_host_state(const FactsSnapshot& report) override;
    Result<std::optional<FactsSnapshot>> latest_host_state(std::string_view host) override;
    Status save_applied_params(const AppliedParams& params) override;
    Result<std::optional<AppliedParams>> applied_params(std::string_view host) override;
    Result<LockResult> acquire_env_lock(
        const LockHolder& me, const std::function<bool(const LockHolder&)>& is_stale) override;
    Status release_env_lock(std::string_view env, std::string_view run_id) override;
    Status create_user(const UserRecord& user) override;
    Result<UserRecord> get_user(std::string_view name) override;
    Result<std::vector<UserRecord>> list_users() override;
    Status set_roles(std::string_view name, const std::vector<std::string>& roles) override;
    Status add_token(const TokenRecord& token) override;
    Result<TokenRecord> get_token(std::string_view id) override;
    Result<std::vector<TokenRecord>> list_tokens(std::string_view user) override;
    Status touch_token(std::string_view id, int64_t at) override;
    Result<int64_t> revoke_tokens(std::string_view user) override;
    Result<std::vector<FactsSnapshot>> list_host_states(std::string_view host, int limit) override;
    Result<bool> import_run(const RunBundle& bundle) override;
    Result<std::vector<AppliedParams>> list_applied_params() override;
    Result<bool> import_facts(const FactsSnapshot& snapshot) override;
    Result<bool> import_host_state(const FactsSnapshot& report) override;
    // sqlite_audit.cpp (#17)
    Result<AuditEntry> append_audit(const AuditEntry& entry) override;
    Result<std::optional<AuditEntry>> audit_head() override;
    Status scan_audit(int64_t after_seq, const std::function<bool(const AuditEntry&)>& fn) override;
    Result<int64_t> import_audit(const std::vector<AuditEntry>& batch) override;
    // sqlite_ci.cpp (#19)
    Result<int64_t> enqueue_ci_pipeline(const CiPipeline& pipeline) override;
    Result<std::optional<CiJob>> claim_ci_job(const CiClaim& claim) override;
    Result<CiLease> renew_ci_lease(int64_t job_id, std::string_view worker, int64_t until) override;
    Status set_ci_job_run(int64_t job_id, std::string_view worker,
                          std::string_view run_id) override;
    Result<bool> finish_ci_job(const CiFinish& finish) override;
    Result<int64_t> cancel_ci(int64_t pipeline_id, std::string_view job_name, int64_t at) override;
    Result<CiPipeline> get_ci_pipeline(int64_t id) override;
    Result<CiJob> get_ci_job(int64_t id) override;
    Result<std::vector<CiPipeline>> find_ci_pipelines(const CiFilter& filter) override;
    Result<std::vector<CiPipeline>> prune_ci(int64_t before) override;
    Status wait_for_ci_work(std::chrono::milliseconds timeout) override;
    // sqlite_host_reports.cpp (#20)
    Result<RecordedReport> record_report(const HostReportRecord& report) override;
    Result<std::vector<HostReportRecord>> latest_reports() override;
    Result<std::vector<HostReportRecord>> host_reports(std::string_view host, int limit) override;
    Result<std::optional<HostReportRecord>> host_facts(std::string_view host) override;
    Result<int64_t> prune_reports(int64_t before) override;

    // Internal to store/sqlite/: the implementation files share these.
    tl::unexpected<Error> db_error(std::string_view what) const {
        return fail(Errc::store, std::string(what) + " in '" + m_path +
                                     "': " + sqlite3_errmsg(m_db) + read_only_note());
    }
    Status exec(const char* sql, std::string_view what) {
        char* msg = nullptr;
        if (sqlite3_exec(m_db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string text = msg ? msg : "unknown error";
            sqlite3_free(msg);
            return fail(Errc::store,
                        std::string(what) + " in '" + m_path + "': " + text + read_only_note());
        }
        return {};
    }
    std::string read_only_note() const {
        return m_read_only.empty() ? "" : " (the store is open read-only: " + m_read_only + ")";
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
    // Snapshot rows (id, host, at, hash, document) of `sql`, which binds host, host, limit.
    Result<std::vector<FactsSnapshot>> list_snapshots(const char* what, const char* sql,
                                                      std::string_view host, int limit);
    // Inserts log lines (seq assigned) inside the caller's transaction.
    Status insert_log_lines(const std::vector<LogLine>& batch);
    Result<int64_t> write_step(const StepRecord& s);
    // `snapshot` into `table` (facts_snapshots or host_states) unless its host, at and hash are
    // there already.
    Result<bool> import_snapshot(const char* table, const FactsSnapshot& snapshot);
    // Appends `entry` to the ledger inside the caller's write transaction (reads the head,
    // chains, inserts): every journal write that is audited calls it in its own transaction.
    Result<AuditEntry> insert_audit(const AuditEntry& entry);
    // Up to a batch of claimable jobs (queued, or running with a lease expired by `now`) after
    // id `after`, by id; and trying to claim one of them for `claim` (nullopt: it does not fit,
    // or it was ended as lost), inside claim_ci_job's transaction.
    Result<std::vector<CiJob>> claim_candidates(int64_t now, int64_t after);
    Result<std::optional<CiJob>> claim_candidate(const CiJob& job, const CiClaim& claim);
    // The pipeline's jobs, by id.
    Result<std::vector<CiJob>> ci_jobs_of(int64_t pipeline_id);
    // Stores the pipeline's status derived from its jobs (ci_pipeline_status), inside the
    // caller's transaction; `at` is its updated_at.
    Status refresh_ci_pipeline(int64_t pipeline_id, int64_t at);
    // Who started run `run_id` ("" for an unknown run), for the entries of its journal.
    Result<std::string> run_user(std::string_view run_id);

  private:
    sqlite3* m_db;
    std::string m_path;
    std::unique_ptr<StatementCache> m_cache;
    std::string m_read_only;  // why it was opened read-only; empty: read-write
};

}  // namespace shipshape::store::sqlite_detail
