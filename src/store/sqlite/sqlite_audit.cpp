// The SQLite store's audit ledger (#17; see store.hpp and store/audit.hpp). An append reads the
// head and inserts inside one BEGIN IMMEDIATE transaction, which takes SQLite's write lock
// first: two writers (threads or processes) take turns, so the chain never forks.
#include <optional>
#include <string>
#include <vector>

#include "store/audit.hpp"
#include "store/sqlite/sqlite_db.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace shipshape::store::sqlite_detail {

namespace {

constexpr const char* k_audit_columns = "seq, at, kind, actor, subject, detail, prev_hash, hash";

// Reads a row of k_audit_columns into `e`, reusing its strings' buffers.
void read_audit(const Statement& q, AuditEntry& e) {
    e.seq = q.integer(0);
    e.at = q.integer(1);
    e.kind = q.text(2);
    e.actor = q.text(3);
    e.subject = q.text(4);
    e.detail = q.text(5);
    e.prev_hash = q.text(6);
    e.hash = q.text(7);
}

}  // namespace

Result<AuditEntry> SqliteStore::insert_audit(const AuditEntry& entry) {
    auto head = audit_head();
    if (!head) {
        return fail(head.error());
    }
    AuditEntry chained = chain_audit_entry(entry, *head ? &**head : nullptr);
    Statement q(*m_cache,
                "INSERT INTO audit(seq, at, kind, actor, subject, detail, prev_hash, hash) "
                "VALUES(?,?,?,?,?,?,?,?)");
    q.bind(1, chained.seq).bind(2, chained.at).bind(3, chained.kind).bind(4, chained.actor);
    q.bind(5, chained.subject).bind(6, chained.detail).bind(7, chained.prev_hash);
    q.bind(8, chained.hash);
    if (q.step() != SQLITE_DONE) {
        return db_error("appending to the audit ledger");
    }
    return chained;
}

Result<AuditEntry> SqliteStore::append_audit(const AuditEntry& entry) {
    return transaction("appending to the audit ledger",
                       [&]() -> Result<AuditEntry> { return insert_audit(entry); });
}

Result<std::optional<AuditEntry>> SqliteStore::audit_head() {
    const std::string sql =
        std::string("SELECT ") + k_audit_columns + " FROM audit ORDER BY seq DESC LIMIT 1";
    Statement q(*m_cache, sql);
    const int rc = q.step();
    if (rc == SQLITE_DONE) {
        return std::optional<AuditEntry>();
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading the audit ledger's head");
    }
    AuditEntry e;
    read_audit(q, e);
    return std::optional<AuditEntry>(std::move(e));
}

Status SqliteStore::scan_audit(int64_t after_seq,
                               const std::function<bool(const AuditEntry&)>& fn) {
    // Its own statement, not the cache's: `fn` may use the store, even scan again.
    const std::string sql =
        std::string("SELECT ") + k_audit_columns + " FROM audit WHERE seq > ? ORDER BY seq";
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
        return db_error("reading the audit ledger");
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    sqlite3_bind_int64(raw, 1, after_seq);
    AuditEntry e;
    auto text = [raw](int col, std::string& out) {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(raw, col));
        out.assign(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(raw, col)));
    };
    int rc;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
        e.seq = sqlite3_column_int64(raw, 0);
        e.at = sqlite3_column_int64(raw, 1);
        text(2, e.kind);
        text(3, e.actor);
        text(4, e.subject);
        text(5, e.detail);
        text(6, e.prev_hash);
        text(7, e.hash);
        if (!fn(e)) {
            return {};
        }
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading the audit ledger");
    }
    return {};
}

Result<int64_t> SqliteStore::import_audit(const std::vector<AuditEntry>& batch) {
    if (batch.empty()) {
        return int64_t{0};
    }
    return transaction("importing audit entries", [&]() -> Result<int64_t> {
        auto head = audit_head();
        if (!head) {
            return fail(head.error());
        }
        if (auto st = check_audit_batch(batch, *head ? (*head)->seq : 0); !st) {
            return fail(st.error());
        }
        Statement q(*m_cache,
                    "INSERT INTO audit(seq, at, kind, actor, subject, detail, prev_hash, hash) "
                    "VALUES(?,?,?,?,?,?,?,?)");
        for (const auto& e : batch) {
            q.reset();
            q.bind(1, e.seq).bind(2, e.at).bind(3, e.kind).bind(4, e.actor).bind(5, e.subject);
            q.bind(6, e.detail).bind(7, e.prev_hash).bind(8, e.hash);
            if (q.step() != SQLITE_DONE) {
                return db_error("importing audit entries");
            }
        }
        return static_cast<int64_t>(batch.size());
    });
}

}  // namespace shipshape::store::sqlite_detail
