// Pull reports to the team server (docs/specs/pull-report.md): POST
// /api/v1/hosts/{host}/reports over os::http_exchange.
#include "app/hosts.hpp"
#include "app/pull.hpp"
#include "os/http_client.hpp"

namespace shipshape::app {

namespace {

// The server's {"error": "..."} message, else the body's start.
std::string server_message(const std::string& body) {
    const std::string key = "\"error\":\"";
    size_t at = body.find(key);
    if (at != std::string::npos) {
        size_t end = body.find('"', at + key.size());
        if (end != std::string::npos) {
            return body.substr(at + key.size(), end - at - key.size());
        }
    }
    return body.substr(0, 200);
}

}  // namespace

Result<PullReporter> http_pull_reporter(const std::string& url, const std::string& token) {
    auto parsed = os::parse_http_url(url);
    if (!parsed) {
        return fail(parsed.error().context("--report"));
    }
    if (token.empty()) {
        return fail(Errc::invalid_argument,
                    "--report " + url +
                        ": the server takes reports only with a token: set SHIPSHAPE_TOKEN or "
                        "pass --token-file FILE (a token of a user with role host named like "
                        "this host: shipshape user add HOST --roles host; shipshape user "
                        "token HOST)");
    }
    os::HttpUrl where = *parsed;
    return PullReporter([where, token](const std::string& host, const std::string& doc) -> Status {
        if (!host_name_problem(host).empty()) {
            return fail(Errc::invalid_argument, "the report names no valid host");
        }
        os::HttpRequest req;
        req.method = "POST";
        req.host = where.host;
        req.port = where.port;
        req.target = where.prefix + "/api/v1/hosts/" + host + "/reports";
        req.headers = {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
        req.body = doc;
        auto r = os::http_exchange(req);
        if (!r) {
            return fail(r.error());
        }
        if (r->status == 200 || r->status == 201) {
            return {};
        }
        std::string why = "the server refused the report (HTTP " + std::to_string(r->status) +
                          "): " + server_message(r->body);
        if (r->status == 401 || r->status == 403) {
            return fail(Errc::permission_denied, why);
        }
        if (r->status == 400 || r->status == 413 || r->status == 422) {
            return fail(Errc::invalid_argument, why);
        }
        return fail(Errc::io, why);  // 404 (an older server), 429, 5xx: try again later
    });
}

}  // namespace shipshape::app
