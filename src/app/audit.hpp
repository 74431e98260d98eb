// The audit ledger's use cases (#17): `audit log` (list entries), `audit verify` (the store's
// chain, streamed, or an export file with no store at all) and `audit export` (JSON lines,
// docs/specs/audit.md). The chain's rules are store/audit.hpp's; the JSON codec is
// audit_json.cpp (nlohmann/json stays there). Nothing here prints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "store/audit.hpp"
#include "store/store.hpp"

namespace shipshape::app {

// Which entries `audit log` shows: those with seq >= from_seq and at >= since_ms, the newest
// `limit` of them (0: all), oldest first.
struct AuditQuery {
    int64_t from_seq = 0;
    int64_t since_ms = 0;
    size_t limit = 50;
};

// Parses `--since`: a number is an entry seq ("1200": from entry 1200 on), else a duration back
// from `now_ms` ("2h", "7d": core/duration.hpp). Errc::invalid_argument saying what is expected.
[[nodiscard]] Result<AuditQuery> parse_audit_since(std::string_view since, int64_t now_ms,
                                                   AuditQuery query = {});

// The entries `query` selects, streamed from the store (at most `limit` held). Errc::store.
[[nodiscard]] Result<std::vector<store::AuditEntry>> list_audit(store::AuditStore& store,
                                                                const AuditQuery& query);

// What a verification found: the entries that checked out, the head they reached and, when the
// chain is broken, the first problem (with `where` = "FILE:LINE" for an export file).
struct AuditVerdict {
    int64_t count = 0;
    int64_t head_seq = 0;
    std::string head_hash;
    std::optional<store::AuditProblem> problem;
    std::string where;
    bool intact() const { return !problem; }
};

// Verifies the store's whole chain (streaming: a million entries are never held). A broken
// chain is a verdict, not an error; Errc::store when the store cannot be read.
[[nodiscard]] Result<AuditVerdict> verify_audit(store::AuditStore& store);

// Verifies the export at `path` line by line with no store: a line that is no entry (not JSON,
// a field missing or of the wrong type) is the problem at its line, as is a broken chain.
// Errc::not_found / permission_denied / io when the file cannot be read.
[[nodiscard]] Result<AuditVerdict> verify_audit_text(std::string_view text,
                                                     const std::string& name);
[[nodiscard]] Result<AuditVerdict> verify_audit_file(const std::string& path);

// What an export wrote.
struct AuditExport {
    int64_t count = 0;
    int64_t head_seq = 0;
    std::string head_hash;
};

// Writes every entry of the store to `path` as JSON lines, atomically (the old file, if any,
// stays until the new one is complete). Errc::store, or the file's Errc::io / permission_denied.
// The export is built in memory before it is written (about 350 bytes an entry).
[[nodiscard]] Result<AuditExport> export_audit(store::AuditStore& store, const std::string& path);

// audit_json.cpp: one entry as one line of an export (no newline), every field, in the spec's
// order; and the reverse, which never throws: Errc::invalid_argument naming what is wrong
// ("not JSON", "field 'seq' is missing", "field 'at' must be an integer").
std::string audit_entry_json(const store::AuditEntry& e);
[[nodiscard]] Result<store::AuditEntry> parse_audit_entry_json(std::string_view line);

// The documents of `audit log --json`, `audit verify --json` and `audit export --json`.
std::string audit_log_json(const std::vector<store::AuditEntry>& entries);
std::string audit_verify_json(const AuditVerdict& verdict, std::string_view source);
std::string audit_export_json(const AuditExport& exported, const std::string& path);

}  // namespace shipshape::app
