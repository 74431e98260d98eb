// The PostgreSQL store's pull reports (#20; see store/host_reports.hpp). record_report is one
// statement (so one transaction, one round trip): the report's INSERT ... ON CONFLICT DO NOTHING
// and, only when it inserted, the host's latest row, in a data-modifying WITH. Of concurrent
// writers of the same (host, commit, run), the later ones wait on the unique index for the first
// to commit and then insert nothing; their follow-up SELECT (a new snapshot) finds its id.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/host_reports.hpp"
#include "store/postgres/pg_db.hpp"

namespace shipshape::store::pg_detail {

namespace {

constexpr const char* k_report_columns =
    "SELECT r.id, r.host, r.run, r.commit_id, r.applied_commit, r.branch, r.started_at, "
    "r.finished_at, r.received_at, r.result, r.exit_code, r.error, r.resources, r.changed, "
    "r.failed, r.drifted, r.drift, r.facts_hash ";

HostReportRecord read_report(const PgResult& q, int row) {
    HostReportRecord r;
    r.id = q.integer(row, 0);
    r.host = q.text(row, 1);
    r.run = q.text(row, 2);
    r.commit = q.text(row, 3);
    r.applied_commit = q.text(row, 4);
    r.branch = q.text(row, 5);
    r.started_at = q.integer(row, 6);
    r.finished_at = q.integer(row, 7);
    r.received_at = q.integer(row, 8);
    r.result = q.text(row, 9);
    r.exit_code = static_cast<int>(q.integer(row, 10));
    r.error = q.text(row, 11);
    r.resources = q.integer(row, 12);
    r.changed = q.integer(row, 13);
    r.failed = q.integer(row, 14);
    r.drifted = q.integer(row, 15);
    r.drift = split_drift(q.text(row, 16));
    r.facts_hash = q.text(row, 17);
    return r;
}

std::vector<HostReportRecord> read_reports(const PgResult& q) {
    std::vector<HostReportRecord> out;
    out.reserve(static_cast<size_t>(q.rows()));
    for (int i = 0; i < q.rows(); ++i) {
        out.push_back(read_report(q, i));
    }
    return out;
}

// The facts are rewritten only when they changed (an unchanged TOASTed value is kept by
// reference, not copied); a report without facts keeps them.
constexpr const char* k_record =
    "WITH ins AS (INSERT INTO host_reports(host, run, commit_id, applied_commit, branch, "
    "started_at, finished_at, received_at, result, exit_code, error, resources, changed, failed, "
    "drifted, drift, facts_hash) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,"
    "$17) ON CONFLICT (host, commit_id, run) DO NOTHING RETURNING id), "
    "latest AS (INSERT INTO host_latest(host, report_id, facts_hash, facts, facts_at) "
    "SELECT $1, id, $17, $18, $8 FROM ins ON CONFLICT (host) DO UPDATE SET "
    "report_id = excluded.report_id, "
    "facts = CASE WHEN excluded.facts_hash = '' OR excluded.facts_hash = host_latest.facts_hash "
    "THEN host_latest.facts ELSE excluded.facts END, "
    "facts_at = CASE WHEN excluded.facts_hash = '' OR excluded.facts_hash = "
    "host_latest.facts_hash THEN host_latest.facts_at ELSE excluded.facts_at END, "
    "facts_hash = CASE WHEN excluded.facts_hash = '' THEN host_latest.facts_hash "
    "ELSE excluded.facts_hash END) "
    "SELECT id FROM ins";

}  // namespace

Result<RecordedReport> PgStore::record_report(const HostReportRecord& r) {
    const std::string what = "recording a host report";
    const std::string drift = join_drift(r.drift);
    auto q = exec(what, k_record,
                  {r.host, r.run, r.commit, r.applied_commit, r.branch, num(r.started_at),
                   num(r.finished_at), num(r.received_at), r.result, num(r.exit_code), r.error,
                   num(r.resources), num(r.changed), num(r.failed), num(r.drifted), drift,
                   r.facts_hash, r.facts_hash.empty() ? std::string_view("") : r.facts});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 1) {
        return RecordedReport{q->integer(0, 0), true};
    }
    auto old = exec("reading a host report's id",
                    "SELECT id FROM host_reports WHERE host = $1 AND commit_id = $2 AND run = $3",
                    {r.host, r.commit, r.run});
    if (!old) {
        return fail(old.error());
    }
    if (old->rows() != 1) {
        return fail(Errc::store, "reading a host report's id in '" + m_where +
                                     "': the report is neither new nor stored");
    }
    return RecordedReport{old->integer(0, 0), false};
}

Result<std::vector<HostReportRecord>> PgStore::latest_reports() {
    const std::string sql = std::string(k_report_columns) +
                            "FROM host_latest l JOIN host_reports r ON r.id = l.report_id "
                            "ORDER BY l.host";
    auto q = exec("reading the hosts' latest reports", sql.c_str());
    if (!q) {
        return fail(q.error());
    }
    return read_reports(*q);
}

Result<std::vector<HostReportRecord>> PgStore::host_reports(std::string_view host, int limit) {
    const std::string sql = std::string(k_report_columns) +
                            "FROM host_reports r WHERE r.host = $1 ORDER BY r.id DESC LIMIT $2";
    auto q = exec("reading a host's reports", sql.c_str(), {host, num(limit)});
    if (!q) {
        return fail(q.error());
    }
    return read_reports(*q);
}

Result<std::optional<HostReportRecord>> PgStore::host_facts(std::string_view host) {
    auto q = exec("reading a host's facts",
                  "SELECT host, facts_hash, facts, facts_at FROM host_latest "
                  "WHERE host = $1 AND facts_hash <> ''",
                  {host});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return std::optional<HostReportRecord>{};
    }
    HostReportRecord r;
    r.host = q->text(0, 0);
    r.facts_hash = q->text(0, 1);
    r.facts = q->text(0, 2);
    r.received_at = q->integer(0, 3);
    return std::optional<HostReportRecord>(std::move(r));
}

Result<int64_t> PgStore::prune_reports(int64_t before) {
    auto q = exec("pruning host reports",
                  "DELETE FROM host_reports WHERE received_at < $1 AND id NOT IN "
                  "(SELECT report_id FROM host_latest)",
                  {num(before)});
    if (!q) {
        return fail(q.error());
    }
    return q->affected();
}

}  // namespace shipshape::store::pg_detail
