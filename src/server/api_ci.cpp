// The API's CI routes (#19, docs/specs/api.md "CI"): GET /api/v1/ci/pipelines, GET
// /api/v1/ci/pipelines/{id} (anonymous reads, as every read) and POST
// /api/v1/ci/pipelines/{id}/cancel, which needs a token whose user holds one of
// k_ci_cancel_roles; every refusal happens before anything is written.
#include "app/runs.hpp"
#include "core/text.hpp"
#include "server/api.hpp"
#include "server/api_json.hpp"
#include "server/ci_pipelines.hpp"

namespace shipshape::server {

namespace {

Response answer(int status, std::string body) {
    return Response{status, std::move(body), "", {}};
}

std::string quoted(std::string_view value) {
    constexpr size_t k_shown = 64;
    return "'" + escape_control(value.substr(0, k_shown)) + (value.size() > k_shown ? "...'" : "'");
}

Response no_pipeline(std::string_view id) {
    return answer(404, json_error("no CI pipeline " + quoted(id)));
}

}  // namespace

Response Api::ci_pipelines(const Request& request) {
    auto filter = parse_ci_query(request.query);
    if (!filter) {
        return answer(400, json_error(filter.error().message()));
    }
    std::lock_guard lock(m_store_mutex);
    auto pipelines = m_store.find_ci_pipelines(*filter);
    if (!pipelines) {
        return from_error(pipelines.error());
    }
    return answer(200, json_ci_pipelines(*pipelines));
}

Response Api::ci_pipeline(const std::string& id) {
    auto n = parse_pipeline_id(id);
    if (!n) {
        return no_pipeline(id);
    }
    std::lock_guard lock(m_store_mutex);
    auto pipeline = m_store.get_ci_pipeline(*n);
    if (!pipeline) {
        if (pipeline.error().code() == Errc::not_found) {
            return no_pipeline(id);
        }
        return from_error(pipeline.error());
    }
    return answer(200, json_ci_pipeline(*pipeline));
}

Response Api::ci_cancel(const Request& request, const std::string& id) {
    auto who = authenticate(request);
    if (!who) {
        return who.error();
    }
    if (!may_cancel_ci(*who)) {
        std::string roles;
        for (const auto& r : who->roles) {
            roles += (roles.empty() ? "" : ", ") + r;
        }
        return answer(403, json_error("user '" + who->user +
                                      "' may not cancel CI pipelines: that needs the role admin, "
                                      "dev or ops (their roles: " +
                                      (roles.empty() ? "none" : roles) + ")"));
    }
    if (!request.body.empty()) {
        return answer(400, json_error("this route takes no body"));
    }
    auto n = parse_pipeline_id(id);
    if (!n) {
        return no_pipeline(id);
    }
    std::lock_guard lock(m_store_mutex);
    auto before = m_store.get_ci_pipeline(*n);
    if (!before) {
        return before.error().code() == Errc::not_found ? no_pipeline(id)
                                                        : from_error(before.error());
    }
    if (before->status != "queued" && before->status != "running") {
        return answer(409, json_error("CI pipeline " + std::to_string(*n) + " has ended (" +
                                      before->status + "): there is nothing to cancel"));
    }
    auto changed = m_store.cancel_ci(*n, "", app::now_ms());
    if (!changed) {
        return changed.error().code() == Errc::not_found ? no_pipeline(id)
                                                         : from_error(changed.error());
    }
    // Who cancelled is kept in the audit ledger (the queue keeps only that it was).
    store::AuditEntry entry;
    entry.at = app::now_ms();
    entry.kind = "ci-cancelled";
    entry.actor = who->user;
    entry.subject = "ci-pipeline/" + std::to_string(*n);
    entry.detail = "{\"jobs\":" + std::to_string(*changed) + "}";
    if (auto appended = m_store.append_audit(entry); !appended) {
        return from_error(appended.error());
    }
    auto after = m_store.get_ci_pipeline(*n);
    if (!after) {
        return from_error(after.error());
    }
    return answer(200, json_ci_cancelled(*after, *changed, who->user));
}

}  // namespace shipshape::server
