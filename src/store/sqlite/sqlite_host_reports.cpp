// The SQLite store's pull reports (#20; see store/host_reports.hpp). record_report is one
// BEGIN IMMEDIATE transaction: writers on this machine take turns, so of two writers of the same
// (host, commit, run) the second finds the first's row.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/host_reports.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace shipshape::store::sqlite_detail {

namespace {

constexpr const char* k_report_columns =
    "SELECT r.id, r.host, r.run, r.commit_id, r.applied_commit, r.branch, r.started_at, "
    "r.finished_at, r.received_at, r.result, r.exit_code, r.error, r.resources, r.changed, "
    "r.failed, r.drifted, r.drift, r.facts_hash ";

HostReportRecord read_report(const Statement& q) {
    HostReportRecord r;
    r.id = q.integer(0);
    r.host = q.text(1);
    r.run = q.text(2);
    r.commit = q.text(3);
    r.applied_commit = q.text(4);
    r.branch = q.text(5);
    r.started_at = q.integer(6);
    r.finished_at = q.integer(7);
    r.received_at = q.integer(8);
    r.result = q.text(9);
    r.exit_code = static_cast<int>(q.integer(10));
    r.error = q.text(11);
    r.resources = q.integer(12);
    r.changed = q.integer(13);
    r.failed = q.integer(14);
    r.drifted = q.integer(15);
    r.drift = split_drift(q.text(16));
    r.facts_hash = q.text(17);
    return r;
}

}  // namespace

Result<RecordedReport> SqliteStore::record_report(const HostReportRecord& r) {
    return transaction("recording a host report", [&]() -> Result<RecordedReport> {
        Statement ins(*m_cache,
                      "INSERT INTO host_reports(host, run, commit_id, applied_commit, branch, "
                      "started_at, finished_at, received_at, result, exit_code, error, resources, "
                      "changed, failed, drifted, drift, facts_hash) "
                      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                      "ON CONFLICT(host, commit_id, run) DO NOTHING");
        ins.bind(1, r.host).bind(2, r.run).bind(3, r.commit).bind(4, r.applied_commit);
        ins.bind(5, r.branch).bind(6, r.started_at).bind(7, r.finished_at);
        ins.bind(8, r.received_at).bind(9, r.result).bind(10, int64_t{r.exit_code});
        ins.bind(11, r.error).bind(12, r.resources).bind(13, r.changed).bind(14, r.failed);
        ins.bind(15, r.drifted).bind(16, join_drift(r.drift)).bind(17, r.facts_hash);
        if (ins.step() != SQLITE_DONE) {
            return db_error("recording a host report");
        }
        if (sqlite3_changes(m_db) == 0) {
            Statement q(*m_cache,
                        "SELECT id FROM host_reports WHERE host = ? AND commit_id = ? AND run = ?");
            q.bind(1, r.host).bind(2, r.commit).bind(3, r.run);
            if (q.step() != SQLITE_ROW) {
                return db_error("reading a host report's id");
            }
            return RecordedReport{q.integer(0), false};
        }
        const int64_t id = sqlite3_last_insert_rowid(m_db);
        // The facts are rewritten only when they changed; a report without facts keeps them.
        Statement up(*m_cache,
                     "INSERT INTO host_latest(host, report_id, facts_hash, facts, facts_at) "
                     "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(host) DO UPDATE SET "
                     "report_id = excluded.report_id, "
                     "facts = CASE WHEN excluded.facts_hash = '' OR "
                     "excluded.facts_hash = host_latest.facts_hash THEN host_latest.facts "
                     "ELSE excluded.facts END, "
                     "facts_at = CASE WHEN excluded.facts_hash = '' OR "
                     "excluded.facts_hash = host_latest.facts_hash THEN host_latest.facts_at "
                     "ELSE excluded.facts_at END, "
                     "facts_hash = CASE WHEN excluded.facts_hash = '' THEN host_latest.facts_hash "
                     "ELSE excluded.facts_hash END");
        up.bind(1, r.host).bind(2, id).bind(3, r.facts_hash);
        up.bind(4, r.facts_hash.empty() ? std::string_view("") : std::string_view(r.facts));
        up.bind(5, r.received_at);
        if (up.step() != SQLITE_DONE) {
            return db_error("recording a host's latest report");
        }
        return RecordedReport{id, true};
    });
}

Result<std::vector<HostReportRecord>> SqliteStore::latest_reports() {
    Statement q(*m_cache, std::string(k_report_columns) +
                              "FROM host_latest l JOIN host_reports r ON r.id = l.report_id "
                              "ORDER BY l.host");
    std::vector<HostReportRecord> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(read_report(q));
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading the hosts' latest reports");
    }
    return out;
}

Result<std::vector<HostReportRecord>> SqliteStore::host_reports(std::string_view host, int limit) {
    Statement q(*m_cache, std::string(k_report_columns) +
                              "FROM host_reports r WHERE r.host = ? ORDER BY r.id DESC LIMIT ?");
    q.bind(1, host).bind(2, int64_t{limit});
    std::vector<HostReportRecord> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(read_report(q));
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading a host's reports");
    }
    return out;
}

Result<std::optional<HostReportRecord>> SqliteStore::host_facts(std::string_view host) {
    Statement q(*m_cache,
                "SELECT host, facts_hash, facts, facts_at FROM host_latest "
                "WHERE host = ? AND facts_hash != ''");
    q.bind(1, host);
    int rc = q.step();
    if (rc == SQLITE_DONE) {
        return std::optional<HostReportRecord>{};
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading a host's facts");
    }
    HostReportRecord r;
    r.host = q.text(0);
    r.facts_hash = q.text(1);
    r.facts = q.text(2);
    r.received_at = q.integer(3);
    return std::optional<HostReportRecord>(std::move(r));
}

Result<int64_t> SqliteStore::prune_reports(int64_t before) {
    return transaction("pruning host reports", [&]() -> Result<int64_t> {
        Statement q(*m_cache,
                    "DELETE FROM host_reports WHERE received_at < ? AND id NOT IN "
                    "(SELECT report_id FROM host_latest)");
        q.bind(1, before);
        if (q.step() != SQLITE_DONE) {
            return db_error("pruning host reports");
        }
        return int64_t{sqlite3_changes(m_db)};
    });
}

}  // namespace shipshape::store::sqlite_detail
