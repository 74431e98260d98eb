// The PostgreSQL store's audit ledger (#17; see store.hpp and store/audit.hpp). Appends from any
// number of connections form one chain: each takes the ledger's advisory lock (k_audit_lock)
// for the rest of its transaction before reading the head. Scans read by pages in seq order
// (keyset, not OFFSET): the ledger only grows at its end, so pages never overlap or skip.
#include <optional>
#include <string>
#include <vector>

#include "store/audit.hpp"
#include "store/postgres/pg_db.hpp"
#include "store/postgres/pg_store.hpp"

namespace shipshape::store::pg_detail {

namespace {

constexpr int k_scan_page = 10000;

}  // namespace

void read_audit_row(const PgResult& q, int row, AuditEntry& e) {
    e.seq = q.integer(row, 0);
    e.at = q.integer(row, 1);
    e.kind = q.text(row, 2);
    e.actor = q.text(row, 3);
    e.subject = q.text(row, 4);
    e.detail = q.text(row, 5);
    e.prev_hash = q.text(row, 6);
    e.hash = q.text(row, 7);
}

std::vector<std::string> audit_insert_params(const AuditEntry& e) {
    return {num(e.seq), num(e.at), e.kind, e.actor, e.subject, e.detail, e.prev_hash, e.hash};
}

Result<AuditEntry> PgStore::insert_audit(const AuditEntry& entry) {
    const std::string what = "appending to the audit ledger";
    if (auto st = exec(what, k_audit_lock); !st) {
        return fail(st.error());
    }
    auto head = audit_head();
    if (!head) {
        return fail(head.error());
    }
    AuditEntry chained = chain_audit_entry(entry, *head ? &**head : nullptr);
    if (auto st = exec_values(what, k_audit_insert, audit_insert_params(chained)); !st) {
        return fail(st.error());
    }
    return chained;
}

Result<AuditEntry> PgStore::append_audit(const AuditEntry& entry) {
    return transaction("appending to the audit ledger",
                       [&]() -> Result<AuditEntry> { return insert_audit(entry); });
}

Result<std::optional<AuditEntry>> PgStore::audit_head() {
    auto q = exec("reading the audit ledger's head", k_audit_head);
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return std::optional<AuditEntry>();
    }
    AuditEntry e;
    read_audit_row(*q, 0, e);
    return std::optional<AuditEntry>(std::move(e));
}

Status PgStore::scan_audit(int64_t after_seq, const std::function<bool(const AuditEntry&)>& fn) {
    AuditEntry e;
    int64_t from = after_seq;
    for (;;) {
        auto q = exec("reading the audit ledger",
                      "SELECT seq, at, kind, actor, subject, detail, prev_hash, hash FROM audit "
                      "WHERE seq > $1 ORDER BY seq LIMIT $2",
                      {num(from), num(k_scan_page)});
        if (!q) {
            return fail(q.error());
        }
        for (int i = 0; i < q->rows(); ++i) {
            read_audit_row(*q, i, e);
            if (!fn(e)) {
                return {};
            }
            from = e.seq;
        }
        if (q->rows() < k_scan_page) {
            return {};
        }
    }
}

Result<int64_t> PgStore::import_audit(const std::vector<AuditEntry>& batch) {
    if (batch.empty()) {
        return int64_t{0};
    }
    const std::string what = "importing audit entries";
    return transaction(what, [&]() -> Result<int64_t> {
        if (auto st = exec(what, k_audit_lock); !st) {
            return fail(st.error());
        }
        auto head = audit_head();
        if (!head) {
            return fail(head.error());
        }
        if (auto st = check_audit_batch(batch, *head ? (*head)->seq : 0); !st) {
            return fail(st.error());
        }
        std::vector<Piped> inserts;
        inserts.reserve(batch.size());
        for (const auto& e : batch) {
            inserts.push_back({k_audit_insert, audit_insert_params(e)});
        }
        if (auto st = pipeline(what, inserts); !st) {
            return fail(st.error());
        }
        return static_cast<int64_t>(batch.size());
    });
}

}  // namespace shipshape::store::pg_detail
