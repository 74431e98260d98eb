// Pull reports (#20, docs/specs/pull-report.md): the document a pulling host sends after each
// cycle, checked field by field, and recording it in a store. The sending side (`shipshape agent
// pull`) fills a PullReport and writes it with to_json; the receiving sides (the server's POST
// /api/v1/hosts/{host}/reports, and `agent pull --report STORE` straight into a store) call
// parse_pull_report and record_pull_report -- one parser, one writer, one recorder.
//
// Pure functions but record_pull_report (one store transaction). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "store/host_reports.hpp"

namespace shipshape::app {

inline constexpr std::string_view k_pull_report_format = "shipshape.pull-report/1";
inline constexpr size_t k_max_pull_report = 1024 * 1024;  // bytes of the document
inline constexpr size_t k_max_report_error = 64 * 1024;   // bytes of `error`
inline constexpr size_t k_max_report_drift = 100;         // entries of drift.resources

struct PullApply {
    int64_t resources = 0;  // planned
    int64_t changed = 0;
    int64_t failed = 0;
};

struct PullReport {
    std::string host;            // 1-253 of A-Za-z0-9._-
    std::string run;             // 16 lowercase hex digits
    std::string commit;          // 40 lowercase hex digits, or "" when the fetch failed
    std::string applied_commit;  // 40 lowercase hex digits, or "" when there is none
    std::string branch;          // 1-255 characters, no control characters
    int64_t started_at = 0;      // ms since the epoch
    int64_t finished_at = 0;     // >= started_at
    std::string result;          // converged (exit 0), failed (1), invalid (2)
    int exit_code = 0;
    std::string error;  // at most k_max_report_error bytes
    PullApply apply;
    int64_t drifted = 0;             // >= drift.size()
    std::vector<std::string> drift;  // at most 100 "kind:target", no control characters
    // The host's facts: a shipshape.facts/1 document (facts/facts_json.hpp) as JSON text, or
    // nullopt for null.
    std::optional<std::string> facts;
};

// Whether `name` is a host name as reports carry it: 1 to 253 of A-Z a-z 0-9 . _ -.
bool is_host_name(std::string_view name);

// Reads a pull report. Errc::invalid_argument, with a message that leads with the field
// ("drift.resources[3]: expected a string", "exit_code: 0 does not match result 'failed'
// (expected 1)"), for: a document over k_max_pull_report bytes, text that is not JSON (with the
// byte offset), a missing, unknown or mistyped key, a value out of its range, or a `format` other
// than k_pull_report_format. `facts`, when not null, is kept as compact JSON text.
[[nodiscard]] Result<PullReport> parse_pull_report(std::string_view text);

// What parse_pull_report checks on the fields of a report already in memory (a sender's own
// check before it sends): the same errors, except those of the JSON text itself.
[[nodiscard]] Status check_pull_report(const PullReport& report);

// The document of `report` (compact JSON, keys in the spec's order), which parse_pull_report
// reads back as equal. Precondition: `report.facts`, when set, is a JSON document (an invalid
// one is written as null).
[[nodiscard]] std::string to_json(const PullReport& report);

struct RecordedPullReport {
    int64_t id = 0;
    bool stored = false;  // false: the same (host, commit, run) was stored before; nothing changed
};

// Checks `report` (check_pull_report: Errc::invalid_argument, writing nothing) and stores it,
// received at `received_at` (ms since the epoch): one transaction, idempotent on (host, commit,
// run) (store/host_reports.hpp). The facts are kept per host, replaced only when their sha256
// changed. Errc::store (or Errc::unreachable) when the store fails.
[[nodiscard]] Result<RecordedPullReport> record_pull_report(store::HostReportStore& store,
                                                            const PullReport& report,
                                                            int64_t received_at);

// What record_pull_report stores (facts_hash: sha256 hex of the facts' text).
store::HostReportRecord to_record(const PullReport& report, int64_t received_at);

// A stored report's summary as the API and `fleet reports --json` show it: the document's
// fields but facts, plus "id", "received_at" and "facts_hash". One JSON object.
std::string report_summary_json(const store::HostReportRecord& record);
// A list of them: a JSON array.
std::string report_summaries_json(const std::vector<store::HostReportRecord>& records);

}  // namespace shipshape::app
