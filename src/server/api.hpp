// The JSON API of `shipshape serve` (docs/specs/api.md, docs/specs/openapi.json), as a pure
// request -> response function: routing, validation of query parameters, the documents. It
// knows no sockets; http_httplib.cpp feeds it requests decoded by cpp-httplib.
//
// Threading: handle() may be called from many threads at once (the HTTP library's pool). Every
// use of the store goes through one mutex, because a store::Store is used from one thread at a
// time (store.hpp) -- an SQLite connection must not be shared by threads unguarded. Reads are
// short (one run list or one run), so serializing them costs little next to a connection per
// request, which would also cost a PostgreSQL connect per request.
//
// Reads are anonymous; GET /api/v1/me and the writes (POST .../check-off, POST
// /api/v1/ci/pipelines/{id}/cancel, POST /api/v1/hosts/{host}/reports) need a Bearer token
// (server/auth.hpp), and failed authentications are limited per client address.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "app/project.hpp"
#include "app/runs.hpp"
#include "app/users.hpp"
#include "os/process.hpp"
#include "server/fair_mutex.hpp"
#include "store/store.hpp"

namespace shipshape::server {

struct Request {
    std::string method;                                      // "GET", "POST", ...
    std::string path;                                        // percent-decoded, without the query
    std::vector<std::pair<std::string, std::string>> query;  // decoded, in request order
    std::vector<std::pair<std::string, std::string>> headers{};  // as received, in order
    std::string body{};
    std::string remote_addr{};  // the client's address, for the failed-authentication limit
};

struct Response {
    int status = 200;
    std::string body;                                            // always a JSON document
    std::string allow;                                           // the Allow header of a 405
    std::vector<std::pair<std::string, std::string>> headers{};  // more headers to send
};

struct ServerInfo {
    std::string version;     // of shipshape
    std::string store_kind;  // "sqlite" or "postgresql"
};

// The most runs one GET /api/v1/runs returns, and how many without a limit.
inline constexpr int k_max_limit = 1000;
inline constexpr int k_default_limit = 50;

class FailureLimiter;

class Api {
  public:
    // `project`, `store`, `runner` and `cancel` must outlive the Api. The runner and cancel
    // source are what app::RunService takes; reads start no process.
    Api(const app::Project& project, store::Store& store, os::ProcessRunner& runner,
        const os::CancelSource& cancel, ServerInfo info);

    // Answers one request. Never throws; unknown routes are 404, a known route with another
    // method 405, bad query values 400, store failures 503 -- each with {"error": "..."}. A
    // PostgreSQL store that cannot be reached is 503 "store URI unreachable: ..." on every route
    // that reads it; the store reconnects on a later request once the server is back.
    Response handle(const Request& request);
    ~Api();

  private:
    Response health();
    Response list_runs(const Request& request);
    Response show_run(const std::string& run_id);
    Response step_log(const std::string& run_id, const std::string& step_id);
    Response from_error(const Error& error);
    // Authenticated routes (api_auth.cpp).
    Response me(const Request& request);
    Response check_off(const Request& request, const std::string& run_id,
                       const std::string& step_id);
    // The identity of the request's Bearer token, or the refusal to send (401, 429, 503).
    tl::expected<app::Identity, Response> authenticate(const Request& request);
    std::string store_message(const Error& error) const;
    // The dashboard's read routes (board.hpp, environments.hpp, history.hpp, releases.hpp).
    Response board(const Request& request);
    Response environments();
    Response history(const Request& request);
    // Every release and its gates (releases.hpp). A broken allowed_signers, signers.toml or
    // release record is the server's problem, not the request's: 500 with file:line:col.
    Response releases();
    // The CI routes (api_ci.cpp, ci_pipelines.hpp).
    Response ci_pipelines(const Request& request);
    Response ci_pipeline(const std::string& id);
    Response ci_cancel(const Request& request, const std::string& id);
    // The pull-report routes (api_hosts.cpp, #20).
    Response post_host_report(const Request& request, const std::string& host);
    Response latest_host_reports();
    Response host_reports(const Request& request, const std::string& host);
    // A dashboard document computed at most once per store change (event sequence) and
    // k_dashboard_cache_age: many viewers of an unchanged store share one computation. The age
    // bounds what the store's events do not show (a run whose process died shows as
    // interrupted) and the history's day windows. Called with m_store_mutex held.
    Response cached(const std::string& key, const std::function<Response()>& compute);

    const app::Project& m_project;
    store::Store& m_store;
    os::ProcessRunner& m_runner;
    const os::CancelSource& m_cancel;
    ServerInfo m_info;
    FairMutex m_store_mutex;  // first come, first served: no request starves behind newcomers
    std::unique_ptr<FailureLimiter> m_limiter;  // of failed authentications
    struct CachedDocument {
        std::string key;  // route and query
        int64_t event_seq = -1;
        std::chrono::steady_clock::time_point at;
        std::string body;
    };
    std::vector<CachedDocument> m_dashboard_cache;  // guarded by m_store_mutex
};

// {"error": MESSAGE}, for the HTTP adapter's own refusals (413, 414, 400 from the parser).
std::string error_document(std::string_view message);

// The OpenAPI document, docs/specs/openapi.json as it was at build time.
std::string_view openapi_document();

}  // namespace shipshape::server
