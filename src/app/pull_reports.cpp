// Pull reports (#20): the checks on a report's values, and recording it (see pull_reports.hpp).
// The JSON side is pull_reports_json.cpp.
#include <algorithm>
#include <string>

#include "app/pull_reports.hpp"
#include "core/text.hpp"
#include "state/hash.hpp"

namespace shipshape::app {

namespace {

Error invalid(std::string_view field, std::string_view what) {
    return Error(Errc::invalid_argument, std::string(field) + ": " + std::string(what));
}

// A value quoted in an error: escaped, and cut to a readable length.
std::string quoted(std::string_view value) {
    constexpr size_t k_shown = 64;
    return "'" + escape_control(value.substr(0, k_shown)) + (value.size() > k_shown ? "...'" : "'");
}

bool is_hex(std::string_view s, size_t size) {
    return s.size() == size && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

int expected_exit_code(std::string_view result) {
    return result == "converged" ? 0 : result == "failed" ? 1 : 2;
}

}  // namespace

bool is_host_name(std::string_view s) {
    return !s.empty() && s.size() <= 253 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

Status check_pull_report(const PullReport& r) {
    if (!is_host_name(r.host)) {
        return fail(invalid("host", quoted(r.host) + " is not a host name (1 to 253 of "
                                                     "A-Z a-z 0-9 . _ -)"));
    }
    if (!is_hex(r.run, 16)) {
        return fail(invalid("run", quoted(r.run) + " is not 16 lowercase hex digits"));
    }
    if (!r.commit.empty() && !is_hex(r.commit, 40)) {
        return fail(
            invalid("commit", quoted(r.commit) + " is not 40 lowercase hex digits or \"\""));
    }
    if (!r.applied_commit.empty() && !is_hex(r.applied_commit, 40)) {
        return fail(invalid("applied_commit",
                            quoted(r.applied_commit) + " is not 40 lowercase hex digits or \"\""));
    }
    if (r.branch.empty() || r.branch.size() > 255 ||
        !find_control_character(r.branch, LineBreaks::rejected).empty()) {
        return fail(invalid("branch", quoted(r.branch) + " is not a branch name (1 to 255 "
                                                         "characters, no control characters)"));
    }
    if (r.started_at < 0) {
        return fail(invalid("started_at", "must not be negative"));
    }
    if (r.finished_at < r.started_at) {
        return fail(invalid("finished_at", std::to_string(r.finished_at) +
                                               " is before started_at (" +
                                               std::to_string(r.started_at) + ")"));
    }
    if (r.result != "converged" && r.result != "failed" && r.result != "invalid") {
        return fail(invalid("result", quoted(r.result) + " is not converged, failed or invalid"));
    }
    if (r.exit_code != expected_exit_code(r.result)) {
        return fail(invalid("exit_code", std::to_string(r.exit_code) + " does not match result '" +
                                             r.result + "' (expected " +
                                             std::to_string(expected_exit_code(r.result)) + ")"));
    }
    if (r.error.size() > k_max_report_error) {
        return fail(
            invalid("error", "longer than 64 KiB (" + std::to_string(r.error.size()) + " bytes)"));
    }
    if (auto bad = find_control_character(r.error, LineBreaks::allowed); !bad.empty()) {
        return fail(invalid("error", bad));
    }
    for (const auto& [name, value] :
         {std::pair<const char*, int64_t>{"apply.resources", r.apply.resources},
          {"apply.changed", r.apply.changed},
          {"apply.failed", r.apply.failed},
          {"drift.drifted", r.drifted}}) {
        if (value < 0) {
            return fail(invalid(name, "must not be negative"));
        }
    }
    if (r.drift.size() > k_max_report_drift) {
        return fail(invalid("drift.resources",
                            "more than 100 entries (" + std::to_string(r.drift.size()) + ")"));
    }
    if (r.drifted < static_cast<int64_t>(r.drift.size())) {
        return fail(invalid("drift.drifted", std::to_string(r.drifted) + " is less than the " +
                                                 std::to_string(r.drift.size()) +
                                                 " entries of drift.resources"));
    }
    for (size_t i = 0; i < r.drift.size(); ++i) {
        const std::string field = "drift.resources[" + std::to_string(i) + "]";
        const auto& d = r.drift[i];
        const size_t colon = d.find(':');
        if (colon == 0 || colon == std::string::npos || colon + 1 == d.size() || d.size() > 4096) {
            return fail(invalid(field, quoted(d) + " is not kind:target (at most 4096 bytes)"));
        }
        if (auto bad = find_control_character(d, LineBreaks::rejected); !bad.empty()) {
            return fail(invalid(field, bad));
        }
    }
    return {};
}

store::HostReportRecord to_record(const PullReport& r, int64_t received_at) {
    store::HostReportRecord out;
    out.host = r.host;
    out.run = r.run;
    out.commit = r.commit;
    out.applied_commit = r.applied_commit;
    out.branch = r.branch;
    out.started_at = r.started_at;
    out.finished_at = r.finished_at;
    out.received_at = received_at;
    out.result = r.result;
    out.exit_code = r.exit_code;
    out.error = r.error;
    out.resources = r.apply.resources;
    out.changed = r.apply.changed;
    out.failed = r.apply.failed;
    out.drifted = r.drifted;
    out.drift = r.drift;
    if (r.facts) {
        out.facts = *r.facts;
        out.facts_hash = state::sha256_hex(*r.facts);
    }
    return out;
}

Result<RecordedPullReport> record_pull_report(store::HostReportStore& store,
                                              const PullReport& report, int64_t received_at) {
    if (auto st = check_pull_report(report); !st) {
        return fail(st.error());
    }
    auto got = store.record_report(to_record(report, received_at));
    if (!got) {
        return fail(got.error().code(),
                    "recording the report of host '" + report.host + "': " + got.error().message());
    }
    return RecordedPullReport{got->id, got->inserted};
}

}  // namespace shipshape::app
