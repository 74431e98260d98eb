// The state store, split by aggregate: RunStore (runs, their steps' journal, check-offs, the
// event log), HostStore (facts snapshots, state reports, the parameters of the last apply per
// host), LockStore (environment locks), UserStore (users, roles, token hashes), CiStore (the CI
// queue, store/ci.hpp) and HostReportStore (pull reports, store/host_reports.hpp). `Store` joins
// them; the embedded SQLite implementation (the default, in the ops repo's .shipshape/state.db)
// implements all of them, and the PostgreSQL implementation for teams (store/postgres/) follows the
// same contract, checked by the one backend-parameterised suite in store_test.cpp.
//
// Contracts: every mutating call is one transaction, durable when it returns (SQLite: WAL with
// synchronous=FULL) unless it is asked for Durability::relaxed. Times are milliseconds since the
// Unix epoch. A Store is used from one thread at a time; callers serialize (the checklist engine
// already does). Every failure is Errc::store with the database's message, except where a function
// says otherwise. PostgreSQL: "durable" is the server's (synchronous_commit), and a relaxed write
// is a commit that does not wait for the server's WAL flush.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "store/ci.hpp"
#include "store/host_reports.hpp"

namespace shipshape::store {

struct RunRecord {
    std::string id;
    std::string checklist_path;  // relative to the ops repo
    std::string checklist_name;
    std::string checklist_text;  // the definition as it was when the run started
    std::string env;
    std::vector<std::pair<std::string, std::string>> params;
    std::string
        status;  // running, waiting, failed, done, interrupted, undoing, undone, undo-failed
    std::string user;
    std::string host;
    int64_t pid = 0;
    int64_t started_at = 0;
    int64_t updated_at = 0;
    // create_run only, never stored or read back: the params as the audit ledger's
    // "run-started" entry records them, with secret values masked by the caller (the entry is
    // kept and exported for good). nullopt: `params` as they are.
    std::optional<std::vector<std::pair<std::string, std::string>>> audit_params{};
};

struct StepRecord {
    std::string run_id;
    std::string step_id;
    std::string state;  // a checklist::StepState name
    int attempts = 0;
    int exit_code = -1;
    std::string detail;
    int64_t started_at = 0;
    int64_t finished_at = 0;
    int64_t duration_ms = 0;
    int64_t finish_seq = 0;  // order in which steps completed within the run (0: not completed)
    std::string undo_state;  // "", running, undone, failed
};

struct CheckOff {
    std::string run_id;
    std::string step_id;
    std::string role;
    std::string by;
    std::string note;
    int64_t at = 0;
};

// One entry of a run's append-only event log.
struct Event {
    int64_t seq = 0;
    int64_t at = 0;
    std::string run_id;
    std::string step_id;  // empty for run-level events
    std::string kind;     // run-started, step-started, step-finished, check-off, ...
    std::string detail;
};

// One line a step printed (redacted, without its newline). Log lines have their own sequence,
// apart from events'.
struct LogLine {
    int64_t seq = 0;
    int64_t at = 0;
    std::string run_id;
    std::string step_id;
    std::string line;
};

// How far a reader of the live stream got: the last event and the last log line it saw.
struct ChangeCursor {
    int64_t event_seq = 0;
    int64_t log_seq = 0;
    bool operator==(const ChangeCursor&) const = default;
};

// What recording check-off `c` writes besides its own row, the same in every backend: the step's
// record (checked-off, finished at `c.at`) and the journal's "check-off" event.
StepRecord checked_off_step(const CheckOff& c);
Event check_off_event(const CheckOff& c);

// How hard a write is pushed to disk. `full` survives a power cut once the call returns;
// `relaxed` survives a crash or kill -9 of the process (the write is ordered before every later
// one) but may be lost to a power cut. Used for records whose loss only causes a rerun.
enum class Durability { full, relaxed };

struct LockHolder {
    std::string env;
    std::string run_id;
    int64_t pid = 0;
    uint64_t pid_start_ticks = 0;  // tells a live holder from a reused pid
    std::string host;
    int64_t started_at = 0;
    std::string user{};  // who started the holder, named to whoever is refused
};

// A saved copy of one host's facts (the JSON document of facts/facts_json.hpp).
struct FactsSnapshot {
    int64_t id = 0;  // assigned by save_facts
    std::string host;
    int64_t at = 0;
    std::string hash;  // of the document, to tell identical snapshots apart at a glance
    std::string document;
};

// The --set parameters an apply used on a host, in name order.
struct AppliedParams {
    std::string host;
    int64_t at = 0;
    std::vector<std::pair<std::string, std::string>> params;
};

// Which runs list_runs returns (h4-ops). Every field left empty matches any run; the given ones
// must all match, exactly (no patterns). `status` is the status as stored: a run shown as
// "interrupted" (recorded as running or undoing, but its process is gone) is computed above the
// store, by app::RunService::list, which asks for the stored statuses that can show as the one
// wanted.
struct RunFilter {
    std::string env;
    std::string checklist;  // the checklist's name
    std::string status;
    int limit = 50;  // at most this many, newest first
    // Leave checklist_text and params empty: for lists that show neither (the history reads
    // 20,000 runs; their texts and params were most of its time).
    bool brief = false;
};

struct LockResult {
    bool acquired = false;
    std::optional<LockHolder> holder;  // when refused: who holds it; when taken over: who did
};

class Store;
class ChangeWaiter;

// Runs and everything recorded during them: the step journal, check-offs and the event log.
class RunStore {
  public:
    virtual ~RunStore() = default;

    // Errc::already_exists when the id is taken.
    [[nodiscard]] virtual Status create_run(const RunRecord& run) = 0;
    // Errc::not_found for an unknown id.
    [[nodiscard]] virtual Result<RunRecord> get_run(std::string_view id) = 0;
    // The runs `filter` matches, newest first (started_at, then id, descending), at most
    // filter.limit; the filtering is done by the database.
    [[nodiscard]] virtual Result<std::vector<RunRecord>> list_runs(const RunFilter& filter) = 0;
    // Every run, newest first, at most `limit`.
    [[nodiscard]] Result<std::vector<RunRecord>> list_runs(int limit) {
        RunFilter all;
        all.limit = limit;
        return list_runs(all);
    }
    [[nodiscard]] virtual Status update_run(std::string_view id, std::string_view status,
                                            int64_t pid, int64_t at) = 0;

    [[nodiscard]] virtual Result<std::vector<StepRecord>> get_steps(std::string_view run_id) = 0;
    // Writes the step's record and appends `event` in one transaction. A completed step
    // (finish_seq < 0 on input) gets the next finish_seq of its run. Returns the finish_seq
    // written.
    [[nodiscard]] virtual Result<int64_t> record_step(const StepRecord& step, const Event& event,
                                                      Durability durability = Durability::full) = 0;
    // Records the check-off, marks the step checked-off and appends an event, atomically.
    [[nodiscard]] virtual Status add_check_off(const CheckOff& check_off) = 0;
    [[nodiscard]] virtual Result<std::vector<CheckOff>> get_check_offs(std::string_view run_id) = 0;
    [[nodiscard]] virtual Status append_event(const Event& event) = 0;
    [[nodiscard]] virtual Result<std::vector<Event>> get_events(std::string_view run_id) = 0;

    // --- Log lines and the live stream (#15, h2-live) ---
    // Appends `batch` (seq ignored; each line gets the next log sequence number, in batch order)
    // in one transaction, written relaxed: a crash of the process loses nothing once this
    // returns, a power cut (SQLite) or a crash of the database server (PostgreSQL) may lose the
    // last batches. An empty batch writes nothing.
    [[nodiscard]] virtual Status append_log_lines(const std::vector<LogLine>& batch) = 0;
    // A step's log, oldest line first.
    [[nodiscard]] virtual Result<std::vector<LogLine>> get_log(std::string_view run_id,
                                                               std::string_view step_id) = 0;
    // The steps of `run_id` that have at least one log line, in step-id order.
    [[nodiscard]] virtual Result<std::vector<std::string>> steps_with_logs(
        std::string_view run_id) = 0;
    // Events with seq > after_seq, in seq order, at most `limit`; only `run_id`'s when it is not
    // empty. A reader never sees a gap fill later: sequence numbers are assigned in commit order.
    [[nodiscard]] virtual Result<std::vector<Event>> events_since(int64_t after_seq, int limit,
                                                                  std::string_view run_id = {}) = 0;
    // Log lines with seq > after_seq, as events_since.
    [[nodiscard]] virtual Result<std::vector<LogLine>> log_lines_since(
        int64_t after_seq, int limit, std::string_view run_id = {}) = 0;
    // The newest event and log-line sequence numbers (0 when there are none). Cheap.
    [[nodiscard]] virtual Result<ChangeCursor> latest_cursor() = 0;
    // Another connection to the same store, opened as this one was: for a thread of its own
    // (a store is used from one thread at a time). It does not use this connection, so it may
    // be called from any thread.
    [[nodiscard]] virtual Result<std::unique_ptr<Store>> connect_again() = 0;
    // A ChangeWaiter on a connection of its own to this store.
    [[nodiscard]] virtual Result<std::unique_ptr<ChangeWaiter>> open_change_waiter() = 0;
};

// What is known of each host: facts snapshots, state reports and the parameters its last
// apply used.
class HostStore {
  public:
    virtual ~HostStore() = default;

    // Returns the new snapshot's id.
    [[nodiscard]] virtual Result<int64_t> save_facts(const FactsSnapshot& snapshot) = 0;
    // Errc::not_found for an unknown id.
    [[nodiscard]] virtual Result<FactsSnapshot> get_facts(int64_t id) = 0;
    // Newest first; every host when `host` is empty.
    [[nodiscard]] virtual Result<std::vector<FactsSnapshot>> list_facts(std::string_view host,
                                                                        int limit) = 0;

    // State reports (state/report.hpp documents) share the snapshot shape: saved by
    // `drift --save`, read by environment comparisons. Returns the new report's id.
    [[nodiscard]] virtual Result<int64_t> save_host_state(const FactsSnapshot& report) = 0;
    // The newest report for `host`, or nullopt when none was saved.
    [[nodiscard]] virtual Result<std::optional<FactsSnapshot>> latest_host_state(
        std::string_view host) = 0;

    // Replaces what `host`'s last successful apply used (its --set parameters), so that plan and
    // drift can use them again.
    [[nodiscard]] virtual Status save_applied_params(const AppliedParams& params) = 0;
    // What `host`'s last apply used, or nullopt when it has none recorded.
    [[nodiscard]] virtual Result<std::optional<AppliedParams>> applied_params(
        std::string_view host) = 0;
};

// Named locks with a recorded holder: one environment (or other key) at a time.
class LockStore {
  public:
    virtual ~LockStore() = default;

    // Takes the environment's lock for `me`. When another holder exists and `is_stale(holder)`
    // says it is dead, the lock is taken over and the old holder returned; otherwise the live
    // holder is returned with acquired = false. The check and the write are one transaction, so
    // of two concurrent callers (threads or processes) exactly one acquires.
    [[nodiscard]] virtual Result<LockResult> acquire_env_lock(
        const LockHolder& me, const std::function<bool(const LockHolder&)>& is_stale) = 0;
    // Releases the lock if `run_id` holds it; otherwise does nothing.
    [[nodiscard]] virtual Status release_env_lock(std::string_view env,
                                                  std::string_view run_id) = 0;
};

// People who may write through the server or a shared store, and their access tokens. A token
// is stored only as a salt and the hash of salt and secret (app/users.hpp makes and checks
// them); the secret itself is never stored. Names and roles are stored as given: app/users.hpp
// validates them.
struct UserRecord {
    std::string name;
    std::vector<std::string> roles;  // sorted, without duplicates
    int64_t created_at = 0;
};

struct TokenRecord {
    std::string id;  // public part of the token, unique
    std::string user;
    std::string salt;  // hex
    std::string hash;  // hex
    int64_t created_at = 0;
    std::optional<int64_t> last_used_at;
    bool revoked = false;
};

// How both backends keep a user's roles in one column: joined with ',' (role names hold no
// comma), and split back (an empty column is no roles).
std::string join_roles(const std::vector<std::string>& roles);
std::vector<std::string> split_roles(std::string_view column);

class UserStore {
  public:
    virtual ~UserStore() = default;

    // Errc::already_exists when the name is taken.
    [[nodiscard]] virtual Status create_user(const UserRecord& user) = 0;
    // Errc::not_found for an unknown name.
    [[nodiscard]] virtual Result<UserRecord> get_user(std::string_view name) = 0;
    // Every user, by name.
    [[nodiscard]] virtual Result<std::vector<UserRecord>> list_users() = 0;
    // Replaces the user's roles. Errc::not_found for an unknown name.
    [[nodiscard]] virtual Status set_roles(std::string_view name,
                                           const std::vector<std::string>& roles) = 0;
    // Errc::not_found for an unknown user, Errc::already_exists when the id is taken.
    [[nodiscard]] virtual Status add_token(const TokenRecord& token) = 0;
    // Errc::not_found for an unknown id (revoked tokens are found, with revoked = true).
    [[nodiscard]] virtual Result<TokenRecord> get_token(std::string_view id) = 0;
    // The user's tokens, oldest first (an unknown user has none).
    [[nodiscard]] virtual Result<std::vector<TokenRecord>> list_tokens(std::string_view user) = 0;
    // Sets last_used_at (a relaxed write: losing it loses nothing but the stamp).
    [[nodiscard]] virtual Status touch_token(std::string_view id, int64_t at) = 0;
    // Revokes every token of the user that is not revoked yet; returns how many.
    // Errc::not_found for an unknown user.
    [[nodiscard]] virtual Result<int64_t> revoke_tokens(std::string_view user) = 0;
};

// --- The audit chain (#17) ---
// One entry of the hash-chained ledger (table `audit`). Every event that matters to an auditor is
// one entry: run start and end, step results, check-offs, sign-offs, releases, applies, drift
// findings, lock takeovers. `hash` = sha256 over the previous entry's hash and this entry's
// fields (store/audit.hpp: audit_entry_hash, the one definition both backends and
// `audit verify --file` use); the first entry's prev_hash is 64 zeros.
struct AuditEntry {
    int64_t seq = 0;        // 1, 2, ...: assigned by append_audit, in commit order, no gaps
    int64_t at = 0;         // ms since the epoch
    std::string kind;       // run-started, run-ended, step, check-off, sign-off, release, ...
    std::string actor;      // who caused it (user name or key principal); may be empty
    std::string subject;    // what it is about: run id, run id/step id, release id, host
    std::string detail;     // JSON object text (the kind's fields); may be empty
    std::string prev_hash;  // lower-case hex
    std::string hash;       // lower-case hex
};

class AuditStore {
  public:
    virtual ~AuditStore() = default;
    // Appends `entry` (its seq, prev_hash and hash are ignored and computed here, reading the
    // head in the same transaction, so concurrent writers still form one chain). Returns the
    // entry as written. Durable when it returns.
    [[nodiscard]] virtual Result<AuditEntry> append_audit(const AuditEntry& entry);
    // The newest entry, or nullopt when the ledger is empty.
    [[nodiscard]] virtual Result<std::optional<AuditEntry>> audit_head();
    // Calls `fn` for every entry with seq > after_seq, in seq order, exactly as stored (nothing
    // recomputed: `audit verify` checks them); stops early when `fn` returns false. Streams:
    // a million entries are never held at once.
    [[nodiscard]] virtual Status scan_audit(int64_t after_seq,
                                            const std::function<bool(const AuditEntry&)>& fn);
    // Writes `batch` exactly as given (seq, prev_hash and hash kept, nothing recomputed or
    // checked but the numbering), in one transaction: for `store copy` (a ledger moved as it is,
    // so its hashes stay verifiable) and for building big ledgers in benchmarks. Returns how
    // many were written. Errc::conflict, writing nothing, unless batch[0].seq is the head's
    // seq + 1 (1 on an empty ledger) and the seqs run on without gaps. An empty batch writes
    // nothing.
    [[nodiscard]] virtual Result<int64_t> import_audit(const std::vector<AuditEntry>& batch);
};

// A run with everything recorded during it, as store copy (store/copy.hpp) moves it between
// stores. (A new per-run table is one more member here, read in copy.cpp and written by
// import_run.)
struct RunBundle {
    RunRecord run;
    std::vector<StepRecord> steps;
    std::vector<CheckOff> check_offs;
    std::vector<Event> events;       // in seq order; seq is the source's and is not kept
    std::vector<LogLine> log_lines;  // in seq order; seq is the source's and is not kept
};

// Operating the store as a whole (h4-ops): its schema version, and writing records as they were
// recorded elsewhere (with their own ids and times), for `shipshape store copy`.
class StoreAdmin {
  public:
    virtual ~StoreAdmin() = default;

    // The schema version the store holds (a read: the health check's probe). Errc::store when
    // it is newer than this shipshape's.
    [[nodiscard]] virtual Result<int64_t> stored_schema_version() = 0;

    // Every state report of `host` (every host when empty), newest first, at most `limit`.
    [[nodiscard]] virtual Result<std::vector<FactsSnapshot>> list_host_states(std::string_view host,
                                                                              int limit) = 0;

    // Writes `bundle` as it is, in one transaction: the run with its id, status and times, its
    // params, steps (finish_seq kept), check-offs and events (their `at` kept, numbered after
    // every event already here, in bundle order). Nothing else is appended (no run-started
    // event). Returns false and writes nothing when a run with that id exists.
    [[nodiscard]] virtual Result<bool> import_run(const RunBundle& bundle) = 0;
    // What every host's last apply used (see HostStore::applied_params), in host order.
    [[nodiscard]] virtual Result<std::vector<AppliedParams>> list_applied_params() = 0;
    // Writes a facts snapshot (or a state report) unless one of the same host with the same time
    // and hash exists; the id is the target's. Returns whether it was written.
    [[nodiscard]] virtual Result<bool> import_facts(const FactsSnapshot& snapshot) = 0;
    [[nodiscard]] virtual Result<bool> import_host_state(const FactsSnapshot& report) = 0;
};

// Every aggregate behind one connection: what a backend implements and `open_store` returns.
// Use cases take the narrowest interface they need.
class Store : public RunStore,
              public HostStore,
              public LockStore,
              public UserStore,
              public AuditStore,
              public StoreAdmin,
              public CiStore,
              public HostReportStore {};

// How a store is opened. read_write creates and migrates the store as needed; when the store
// cannot be written (a read-only mount, an immutable file or directory, no write permission) it
// is opened read-only instead, as if read_only had been asked for. read_only never writes: it
// needs a store at the current schema, reads work, and every write fails (Errc::store, the
// message says the store is read-only).
enum class Access { read_write, read_only };

// Opens the store at `location`: a file path, "sqlite:PATH", or a PostgreSQL connection URI
// (postgresql://... or postgres://...). Errc::invalid_argument for another scheme. Errc::store
// when it cannot be opened or reached, is from a newer shipshape, or needs a schema upgrade it
// cannot get here: a read-only SQLite store, or any PostgreSQL store (a shared database is
// migrated only by migrate_store, i.e. `shipshape store migrate`; SQLite migrates on open).
[[nodiscard]] Result<std::unique_ptr<Store>> open_store(const std::string& location,
                                                        Access access = Access::read_write);

// Waits for new events or log lines, on a connection of its own (#15, h2-live). PostgreSQL: every
// write of an event or log line sends NOTIFY in its transaction and the waiter LISTENs; SQLite:
// the waiter polls latest_cursor() every k_change_poll. Used from one thread at a time.
class ChangeWaiter {
  public:
    virtual ~ChangeWaiter() = default;
    // Returns the store's cursor as soon as it differs from `known`, or when `timeout` passed or
    // `cancel_fd` (when >= 0) became readable (then it may equal `known`). Errc::store when the
    // store cannot be read.
    [[nodiscard]] virtual Result<ChangeCursor> wait(const ChangeCursor& known,
                                                    std::chrono::milliseconds timeout,
                                                    int cancel_fd = -1) = 0;
};

inline constexpr std::chrono::milliseconds k_change_poll{100};

// Opens a ChangeWaiter on the store at `location` (as for open_store).
[[nodiscard]] Result<std::unique_ptr<ChangeWaiter>> open_change_waiter(const std::string& location);

// The schema version a migration found and the one it left (this shipshape's; equal when there
// was nothing to do).
struct SchemaMigration {
    int64_t from = 0;
    int64_t to = 0;
};

// Brings the store at `location` (as for open_store) to this shipshape's schema, creating it
// when it is empty. Errc::store as for open_store, and for a schema newer than this shipshape.
[[nodiscard]] Result<SchemaMigration> migrate_store(const std::string& location);

}  // namespace shipshape::store
