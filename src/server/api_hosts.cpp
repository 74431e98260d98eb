// The API's pull-report routes (#20, docs/specs/pull-report.md, docs/specs/api.md "Hosts"):
// POST /api/v1/hosts/{host}/reports, which needs a token of the host's own user (role `host`,
// named like the host) or of an admin; GET /api/v1/hosts/reports (every host's newest report)
// and GET /api/v1/hosts/{host}/reports?limit=N (anonymous reads, as every read). Every refusal
// happens before anything is written; the document is read by app::parse_pull_report and stored
// by app::record_pull_report, as `agent pull --report STORE` does.
#include <charconv>

#include "app/pull_reports.hpp"
#include "app/runs.hpp"
#include "core/text.hpp"
#include "server/api.hpp"
#include "server/api_json.hpp"

namespace shipshape::server {

namespace {

Response answer(int status, std::string body) {
    return Response{status, std::move(body), "", {}};
}

std::string quoted(std::string_view value) {
    constexpr size_t k_shown = 64;
    return "'" + escape_control(value.substr(0, k_shown)) + (value.size() > k_shown ? "...'" : "'");
}

// The reports one GET of a host's reports returns without a limit, and at most.
constexpr int k_default_reports = 20;
constexpr int k_max_reports = 1000;

// Who may send {host}'s reports: the host's own user, or an admin.
bool may_report_for(const app::Identity& who, std::string_view host) {
    return who.has_role("admin") || (who.has_role("host") && who.user == host);
}

}  // namespace

Response Api::post_host_report(const Request& request, const std::string& host) {
    if (request.body.size() > app::k_max_pull_report) {
        return answer(413, json_error("the report is " + std::to_string(request.body.size()) +
                                      " bytes, more than the 1 MiB a report may have"));
    }
    auto who = authenticate(request);
    if (!who) {
        return who.error();
    }
    if (!may_report_for(*who, host)) {
        return answer(
            403, json_error("user '" + who->user + "' may not report for host " + quoted(host) +
                            ": that needs the role host and the host's name as the "
                            "user's, or the role admin"));
    }
    auto report = app::parse_pull_report(request.body);
    if (!report) {
        return answer(400, json_error(report.error().message()));
    }
    if (report->host != host) {
        return answer(400, json_error("host: the report is of host " + quoted(report->host) +
                                      ", sent to the route of host " + quoted(host)));
    }
    std::lock_guard lock(m_store_mutex);
    auto recorded = app::record_pull_report(m_store, *report, app::now_ms());
    if (!recorded) {
        return from_error(recorded.error());
    }
    return answer(recorded->stored ? 201 : 200,
                  "{\"stored\":" + std::string(recorded->stored ? "true" : "false") +
                      ",\"id\":" + std::to_string(recorded->id) + "}");
}

Response Api::latest_host_reports() {
    std::lock_guard lock(m_store_mutex);
    auto reports = m_store.latest_reports();
    if (!reports) {
        return from_error(reports.error());
    }
    return answer(200, "{\"hosts\":" + app::report_summaries_json(*reports) + "}");
}

Response Api::host_reports(const Request& request, const std::string& host) {
    if (!app::is_host_name(host)) {
        return answer(400, json_error("host: " + quoted(host) +
                                      " is not a host name (1 to 253 of A-Z a-z 0-9 . _ -)"));
    }
    int limit = k_default_reports;
    for (const auto& [name, value] : request.query) {
        if (name != "limit") {
            return answer(
                400, json_error("unknown query parameter " + quoted(name) + " (known: limit)"));
        }
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
        if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || limit < 1 ||
            limit > k_max_reports) {
            return answer(400,
                          json_error("limit must be a whole number from 1 to " +
                                     std::to_string(k_max_reports) + ", not " + quoted(value)));
        }
    }
    std::lock_guard lock(m_store_mutex);
    auto reports = m_store.host_reports(host, limit);
    if (!reports) {
        return from_error(reports.error());
    }
    return answer(200, "{\"host\":\"" + host + "\"" +
                           ",\"reports\":" + app::report_summaries_json(*reports) + "}");
}

}  // namespace shipshape::server
