#include "server/api.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "core/text.hpp"
#include "os/file_system.hpp"
#include "server/api_json.hpp"
#include "server/auth.hpp"

namespace shipshape::server {

namespace {

constexpr std::string_view k_prefix = "/api/v1/";

constexpr std::array<std::string_view, 8> k_statuses = {
    "running", "waiting", "failed", "done", "interrupted", "undoing", "undone", "undo-failed"};

constexpr std::array<std::string_view, 4> k_run_filters = {"checklist", "env", "limit", "status"};

Response json_response(int status, std::string body) {
    return Response{status, std::move(body), ""};
}

Response error_response(int status, std::string_view message) {
    return json_response(status, json_error(message));
}

// A value quoted in an error message: escaped, and cut to a readable length.
std::string quoted(std::string_view value) {
    constexpr size_t k_shown = 64;
    std::string shown = escape_control(value.substr(0, k_shown));
    return "'" + shown + (value.size() > k_shown ? "...'" : "'");
}

// The path below /api/v1/ split at '/'. An empty segment (a doubled or trailing slash) is kept
// as "", so such paths match no route.
std::vector<std::string> segments(std::string_view rest) {
    std::vector<std::string> out;
    size_t at = 0;
    while (true) {
        size_t slash = rest.find('/', at);
        out.emplace_back(rest.substr(at, slash == std::string_view::npos ? rest.npos : slash - at));
        if (slash == std::string_view::npos) {
            return out;
        }
        at = slash + 1;
    }
}

Result<store::RunFilter> parse_run_filter(
    const std::vector<std::pair<std::string, std::string>>& query) {
    store::RunFilter f;
    f.limit = k_default_limit;
    std::vector<std::string> seen;
    for (const auto& [name, value] : query) {
        if (std::find(k_run_filters.begin(), k_run_filters.end(), name) == k_run_filters.end()) {
            return fail(Errc::invalid_argument, "unknown query parameter " + quoted(name) +
                                                    " (known: checklist, env, limit, status)");
        }
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
            return fail(Errc::invalid_argument, "query parameter '" + name + "' given twice");
        }
        seen.push_back(name);
        if (name == "limit") {
            int n = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n < 1 ||
                n > k_max_limit) {
                return fail(Errc::invalid_argument, "limit must be a whole number from 1 to " +
                                                        std::to_string(k_max_limit) + ", not " +
                                                        quoted(value));
            }
            f.limit = n;
            continue;
        }
        if (name == "status") {
            if (std::find(k_statuses.begin(), k_statuses.end(), value) == k_statuses.end()) {
                return fail(Errc::invalid_argument,
                            "status must be one of running, waiting, failed, done, interrupted, "
                            "undoing, undone, undo-failed, not " +
                                quoted(value));
            }
            f.status = value;
            continue;
        }
        // env and checklist: names, compared exactly.
        std::string bad = find_control_character(value, LineBreaks::rejected);
        if (value.empty() || value.size() > 200 || !bad.empty()) {
            return fail(Errc::invalid_argument,
                        name +
                            " must be a name of 1 to 200 characters without control "
                            "characters, not " +
                            quoted(value));
        }
        (name == "env" ? f.env : f.checklist) = value;
    }
    return f;
}

}  // namespace

std::string error_document(std::string_view message) {
    return json_error(message);
}

Api::Api(const app::Project& project, store::Store& store, os::ProcessRunner& runner,
         const os::CancelSource& cancel, ServerInfo info)
    : m_project(project),
      m_store(store),
      m_runner(runner),
      m_cancel(cancel),
      m_info(std::move(info)),
      m_limiter(std::make_unique<FailureLimiter>()) {}

Api::~Api() = default;

Response Api::handle(const Request& request) {
    std::string_view path = request.path;
    if (!path.starts_with(k_prefix)) {
        return error_response(404, "no such route: " + quoted(path) + " (the API is under " +
                                       std::string(k_prefix) + ")");
    }
    auto seg = segments(path.substr(k_prefix.size()));
    bool any_query = !request.query.empty();
    // Which route the path names; the method is checked after, so that a known path with
    // another method is 405, not 404.
    enum class Route {
        none,
        health,
        openapi,
        runs,
        run,
        step_log,
        me,
        check_off,
        events,
        board,
        environments,
        history,
        releases,
        ci_pipelines,
        ci_pipeline,
        ci_cancel,
        hosts_reports,
        host_reports
    };
    Route route = Route::none;
    if (seg.size() == 1 && seg[0] == "health") {
        route = Route::health;
    } else if (seg.size() == 1 && seg[0] == "openapi.json") {
        route = Route::openapi;
    } else if (seg.size() == 1 && seg[0] == "runs") {
        route = Route::runs;
    } else if (seg.size() == 1 && seg[0] == "events") {
        route = Route::events;  // streamed by the HTTP adapter (events.hpp)
    } else if (seg.size() == 2 && seg[0] == "runs" && !seg[1].empty()) {
        route = Route::run;
    } else if (seg.size() == 5 && seg[0] == "runs" && !seg[1].empty() && seg[2] == "steps" &&
               !seg[3].empty() && seg[4] == "log") {
        route = Route::step_log;
    } else if (seg.size() == 1 && seg[0] == "me") {
        route = Route::me;
    } else if (seg.size() == 5 && seg[0] == "runs" && !seg[1].empty() && seg[2] == "steps" &&
               !seg[3].empty() && seg[4] == "check-off") {
        route = Route::check_off;
    }
    // The dashboard's read routes (board.hpp, environments.hpp, history.hpp).
    if (seg.size() == 1 && seg[0] == "board") {
        route = Route::board;
    } else if (seg.size() == 1 && seg[0] == "environments") {
        route = Route::environments;
    } else if (seg.size() == 1 && seg[0] == "history") {
        route = Route::history;
    } else if (seg.size() == 1 && seg[0] == "releases") {
        route = Route::releases;
    }
    // The CI routes (api_ci.cpp).
    if (seg.size() == 2 && seg[0] == "ci" && seg[1] == "pipelines") {
        route = Route::ci_pipelines;
    } else if (seg.size() == 3 && seg[0] == "ci" && seg[1] == "pipelines" && !seg[2].empty()) {
        route = Route::ci_pipeline;
    } else if (seg.size() == 4 && seg[0] == "ci" && seg[1] == "pipelines" && !seg[2].empty() &&
               seg[3] == "cancel") {
        route = Route::ci_cancel;
    }
    // The pull-report routes (api_hosts.cpp). A host's reports are read (GET) and sent (POST)
    // at the same path.
    if (seg.size() == 2 && seg[0] == "hosts" && seg[1] == "reports") {
        route = Route::hosts_reports;
    } else if (seg.size() == 3 && seg[0] == "hosts" && !seg[1].empty() && seg[2] == "reports") {
        route = Route::host_reports;
    }
    if (route == Route::none) {
        return error_response(404, "no such route: " + quoted(path));
    }
    if (route == Route::host_reports && request.method == "POST") {
        return post_host_report(request, seg[1]);
    }
    const bool post_route = route == Route::check_off || route == Route::ci_cancel;
    if (route == Route::host_reports && request.method != "GET" && request.method != "HEAD") {
        Response r = error_response(405, "method " + quoted(request.method) +
                                             " not allowed here: this route answers GET and "
                                             "POST only");
        r.allow = "GET, HEAD, POST";
        return r;
    }
    if (post_route && request.method != "POST") {
        Response r = error_response(405, "method " + quoted(request.method) +
                                             " not allowed here: this route answers POST only");
        r.allow = "POST";
        return r;
    }
    if (!post_route && request.method != "GET" && request.method != "HEAD") {
        Response r = error_response(405, "method " + quoted(request.method) +
                                             " not allowed here: this route answers GET only");
        r.allow = "GET, HEAD";
        return r;
    }
    if (route == Route::events) {
        return error_response(503, "the event stream is not available on this server");
    }
    if (route != Route::runs && route != Route::board && route != Route::history &&
        route != Route::ci_pipelines && route != Route::host_reports && any_query) {
        return error_response(400, "this route takes no query parameters");
    }
    switch (route) {
        case Route::health:
            return health();
        case Route::openapi:
            return json_response(200, std::string(openapi_document()));
        case Route::runs:
            return list_runs(request);
        case Route::run:
            return show_run(seg[1]);
        case Route::step_log:
            return step_log(seg[1], seg[3]);
        case Route::me:
            return me(request);
        case Route::check_off:
            return check_off(request, seg[1], seg[3]);
        case Route::board:
            return board(request);
        case Route::environments:
            return environments();
        case Route::history:
            return history(request);
        case Route::releases:
            return releases();
        case Route::ci_pipelines:
            return ci_pipelines(request);
        case Route::ci_pipeline:
            return ci_pipeline(seg[2]);
        case Route::ci_cancel:
            return ci_cancel(request, seg[2]);
        case Route::hosts_reports:
            return latest_host_reports();
        case Route::host_reports:
            return host_reports(request, seg[1]);
        case Route::events:  // answered above
        case Route::none:
            break;
    }
    return error_response(404, "no such route");
}

std::string Api::store_message(const Error& error) const {
    // An unreachable store's message names it already ("store postgresql://HOST/DB
    // unreachable: ..."), without its password.
    if (error.code() == Errc::unreachable) {
        return error.message();
    }
    return m_info.store_kind + " store: " + error.message();
}

Response Api::from_error(const Error& error) {
    switch (error.code()) {
        case Errc::not_found:
            return error_response(404, error.message());
        case Errc::invalid_argument:
            return error_response(400, error.message());
        case Errc::store:
        case Errc::io:
        case Errc::unreachable:
        case Errc::timeout:
            return error_response(503, store_message(error));
        default:
            return error_response(500, error.message());
    }
}

Response Api::health() {
    std::lock_guard lock(m_store_mutex);
    // One cheap read proves the store answers (and reconnects it when it can).
    auto version = m_store.stored_schema_version();
    if (!version) {
        return json_response(
            503, json_health(m_info, "unavailable", store_message(version.error()), std::nullopt));
    }
    return json_response(200, json_health(m_info, "ok", "", *version));
}

Response Api::list_runs(const Request& request) {
    auto filter = parse_run_filter(request.query);
    if (!filter) {
        return error_response(400, filter.error().message());
    }
    std::lock_guard lock(m_store_mutex);
    app::RunService service(m_project, m_store, m_runner, m_cancel);
    auto runs = service.list(*filter);
    if (!runs) {
        return from_error(runs.error());
    }
    return json_response(200, json_run_list(*runs));
}

Response Api::show_run(const std::string& run_id) {
    std::lock_guard lock(m_store_mutex);
    app::RunService service(m_project, m_store, m_runner, m_cancel);
    auto details = service.show(run_id);
    if (!details) {
        if (details.error().code() == Errc::not_found) {
            return error_response(404, "no run " + quoted(run_id));
        }
        return from_error(details.error());
    }
    return json_response(200, json_run_detail(*details));
}

Response Api::step_log(const std::string& run_id, const std::string& step_id) {
    std::lock_guard lock(m_store_mutex);
    app::RunService service(m_project, m_store, m_runner, m_cancel);
    auto details = service.show(run_id);
    if (!details) {
        if (details.error().code() == Errc::not_found) {
            return error_response(404, "no run " + quoted(run_id));
        }
        return from_error(details.error());
    }
    // Only a step the run has names a log: nothing is read for a name from the request alone.
    auto it = std::find_if(details->steps.begin(), details->steps.end(),
                           [&](const app::StepView& v) { return v.record.step_id == step_id; });
    if (it == details->steps.end()) {
        return error_response(404, "run " + quoted(run_id) + " has no step " + quoted(step_id));
    }
    // The store's log lines (redacted when they were written, by the engine's line sink), or
    // the file of a run recorded before they were in the store.
    auto text = service.step_log(run_id, step_id);
    if (!text) {
        return from_error(text.error());
    }
    return json_response(200, json_step_log(run_id, step_id, *text));
}

}  // namespace shipshape::server
