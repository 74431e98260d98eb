// The API's authenticated routes: GET /api/v1/me and POST /api/v1/runs/{id}/steps/{step}/
// check-off (docs/specs/api.md). The check-off goes through app::RunService::check_off, as
// `shipshape check-off` does, with the authenticated user as `by` and the step's own role, which
// the user must hold; every refusal happens before anything is written.
#include <algorithm>
#include <chrono>

#include "core/text.hpp"
#include "core/wall_ms.hpp"
#include "server/api.hpp"
#include "server/api_json.hpp"
#include "server/auth.hpp"
#include "server/auth_json.hpp"

namespace shipshape::server {

namespace {

Response refusal(int status, std::string_view message) {
    return Response{status, json_error(message), "", {}};
}

Response unauthorized(std::string_view message) {
    Response r = refusal(401, message);
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"shipshape\"");
    return r;
}

std::string quoted(std::string_view value) {
    constexpr size_t k_shown = 64;
    return "'" + escape_control(value.substr(0, k_shown)) + (value.size() > k_shown ? "...'" : "'");
}

std::string joined(const std::vector<std::string>& roles) {
    std::string out;
    for (const auto& r : roles) {
        out += (out.empty() ? "" : ", ") + r;
    }
    return out.empty() ? "none" : out;
}

}  // namespace

tl::expected<app::Identity, Response> Api::authenticate(const Request& request) {
    const int64_t now = wall_ms();
    if (int64_t wait = m_limiter->retry_after_s(request.remote_addr, now); wait > 0) {
        Response r =
            refusal(429, "too many failed authentications from " + quoted(request.remote_addr) +
                             ": try again in " + std::to_string(wait) + " s");
        r.headers.emplace_back("Retry-After", std::to_string(wait));
        return tl::unexpected(std::move(r));
    }
    auto header = header_value(request, "Authorization");
    if (!header) {
        return tl::unexpected(unauthorized(
            "this route needs a token: send 'Authorization: Bearer TOKEN' (a token comes from "
            "'shipshape user token NAME')"));
    }
    std::optional<std::string> token;
    if (header_count(request, "Authorization") == 1) {
        token = parse_bearer(*header);
    }
    Result<app::Identity> who = fail(Errc::permission_denied,
                                     "the Authorization header is not 'Bearer TOKEN' (one header, "
                                     "one token)");
    if (token) {
        std::lock_guard lock(m_store_mutex);
        app::UserService users(m_store);
        who = users.authenticate(*token);
    }
    if (who) {
        return *who;
    }
    if (who.error().code() != Errc::permission_denied) {
        return tl::unexpected(from_error(who.error()));
    }
    m_limiter->record_failure(request.remote_addr, now);
    return tl::unexpected(unauthorized(who.error().message()));
}

Response Api::me(const Request& request) {
    auto who = authenticate(request);
    if (!who) {
        return who.error();
    }
    return Response{200, json_me(*who), "", {}};
}

Response Api::check_off(const Request& request, const std::string& run_id,
                        const std::string& step_id) {
    auto who = authenticate(request);
    if (!who) {
        return who.error();
    }
    auto type = header_value(request, "Content-Type");
    if (!request.body.empty() && (!type || !type->starts_with("application/json"))) {
        return refusal(400, "the body must be JSON, sent with 'Content-Type: application/json'");
    }
    auto body = parse_check_off_body(request.body);
    if (!body) {
        return refusal(400, body.error().message());
    }
    std::lock_guard lock(m_store_mutex);
    app::RunService service(m_project, m_store, m_runner, m_cancel);
    auto details = service.show(run_id);
    if (!details) {
        if (details.error().code() == Errc::not_found) {
            return refusal(404, "no run " + quoted(run_id));
        }
        return from_error(details.error());
    }
    auto step = std::find_if(details->steps.begin(), details->steps.end(),
                             [&](const app::StepView& v) { return v.record.step_id == step_id; });
    if (step == details->steps.end()) {
        return refusal(404, "run " + quoted(run_id) + " has no step " + quoted(step_id));
    }
    if (step->kind != "manual") {
        return refusal(409,
                       "step " + quoted(step_id) +
                           " is not a manual step: it runs a command and cannot be checked off");
    }
    if (!who->has_role(step->role)) {
        return refusal(403, "user '" + who->user + "' does not hold the role '" + step->role +
                                "' that step " + quoted(step_id) +
                                " needs (their roles: " + joined(who->roles) + ")");
    }
    auto done = service.check_off(run_id, step_id, step->role, who->user, body->note);
    if (!done) {
        switch (done.error().code()) {
            case Errc::not_found:
                return refusal(404, done.error().message());
            case Errc::conflict:
                return refusal(409, done.error().message());
            case Errc::permission_denied:
                return refusal(403, done.error().message());
            case Errc::invalid_argument:
                return refusal(400, done.error().message());
            default:
                return from_error(done.error());
        }
    }
    return Response{200, json_check_off_done(done->check_off), "", {}};
}

}  // namespace shipshape::server
