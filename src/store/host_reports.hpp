// Pull reports (#20, docs/specs/pull-report.md): what each pulling host sent after a cycle. Part
// of every Store (see store.hpp); both backends follow the contract below, checked by the one
// contract suite (host_reports_store_test.cpp).
//
// Layout, for small growth at 10,000 hosts reporting every 5 minutes: a report row keeps only
// the summary (commits, result, exit code, counts, the drift list, the error) -- a few hundred
// bytes. The facts document (10-30 KB) is kept once per host, in a latest-per-host row that a
// report replaces only when its facts' hash differs from the stored one (a report without facts
// keeps them). So the facts cost (hosts x document), not (reports x document).
//
// Contracts:
// - (host, commit, run) identifies a report (a UNIQUE constraint): recording it again stores
//   nothing, changes no latest row, and returns the first one's id. Of concurrent writers of the
//   same key (connections, processes, machines) exactly one inserts.
// - "Newest" is the order in which reports were stored (their id), not the hosts' clocks.
// - Every mutating call is one transaction, durable when it returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape::store {

struct HostReportRecord {
    int64_t id = 0;  // assigned by record_report
    std::string host;
    std::string run;     // 16 hex digits
    std::string commit;  // "" when the fetch failed
    std::string applied_commit;
    std::string branch;
    int64_t started_at = 0;
    int64_t finished_at = 0;
    int64_t received_at = 0;  // when the store got it (the caller's clock)
    std::string result;       // converged, failed, invalid
    int exit_code = 0;
    std::string error;
    int64_t resources = 0;  // the apply's counts
    int64_t changed = 0;
    int64_t failed = 0;
    int64_t drifted = 0;
    std::vector<std::string> drift;  // up to 100 "kind:target", no line breaks in any
    // sha256 (hex) of `facts`; "" when the report carried none.
    std::string facts_hash;
    // record_report only (never read back here; see host_facts): the facts document, "" for none.
    std::string facts{};
};

struct RecordedReport {
    int64_t id = 0;
    bool inserted = false;  // false: this (host, commit, run) was stored before
};

class HostReportStore {
  public:
    virtual ~HostReportStore() = default;

    // Stores `report` unless its (host, commit, run) is stored, and then makes it the host's
    // latest (its facts replacing the kept ones when facts_hash is set and differs). Returns
    // the report's id, new or old.
    [[nodiscard]] virtual Result<RecordedReport> record_report(const HostReportRecord& report) = 0;
    // The newest report of every host, by host name; `facts` left empty.
    [[nodiscard]] virtual Result<std::vector<HostReportRecord>> latest_reports() = 0;
    // `host`'s newest reports, newest first, at most `limit`; `facts` left empty.
    [[nodiscard]] virtual Result<std::vector<HostReportRecord>> host_reports(std::string_view host,
                                                                             int limit) = 0;
    // The facts document `host` sent last (its hash in `facts_hash`, when it came in
    // `received_at`: both in the returned record with `facts`), or nullopt when it sent none.
    [[nodiscard]] virtual Result<std::optional<HostReportRecord>> host_facts(
        std::string_view host) = 0;
    // Deletes the reports received before `before` (ms since the epoch), except each host's
    // latest, which is kept whatever its age. Returns how many it deleted.
    [[nodiscard]] virtual Result<int64_t> prune_reports(int64_t before) = 0;
};

// The drift list in one column: joined with '\n' (entries hold no line break), and split back.
std::string join_drift(const std::vector<std::string>& drift);
std::vector<std::string> split_drift(std::string_view column);

}  // namespace shipshape::store
