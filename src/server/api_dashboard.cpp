// The dashboard's read routes of the Api (board.hpp, environments.hpp, history.hpp): each
// reads the store under the Api's store mutex and answers a document computed from it. The
// board and the history are cached per store change (Api::cached), and read only what they
// show: runs without their texts and params, and the steps of active runs with each distinct
// checklist parsed once.
#include <map>

#include "app/runs.hpp"
#include "checklist/load.hpp"
#include "server/api.hpp"
#include "server/api_json.hpp"
#include "server/board.hpp"
#include "server/ci_pipelines.hpp"
#include "server/environments.hpp"
#include "server/history.hpp"
#include "server/releases.hpp"

namespace shipshape::server {

namespace {

constexpr std::chrono::seconds k_dashboard_cache_age{2};
constexpr size_t k_dashboard_cache_entries = 32;

std::string cache_key(std::string_view route, const Request& request) {
    std::string key(route);
    for (const auto& [name, value] : request.query) {
        key += '\n' + name + '=' + value;
    }
    return key;
}

}  // namespace

Response Api::cached(const std::string& key, const std::function<Response()>& compute) {
    auto cursor = m_store.latest_cursor();
    if (!cursor) {
        return from_error(cursor.error());
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto it = m_dashboard_cache.begin(); it != m_dashboard_cache.end(); ++it) {
        if (it->key != key) {
            continue;
        }
        if (it->event_seq == cursor->event_seq && now - it->at < k_dashboard_cache_age) {
            return Response{200, it->body, ""};
        }
        m_dashboard_cache.erase(it);
        break;
    }
    Response response = compute();
    if (response.status == 200) {
        if (m_dashboard_cache.size() >= k_dashboard_cache_entries) {
            m_dashboard_cache.erase(m_dashboard_cache.begin());  // the oldest
        }
        m_dashboard_cache.push_back(CachedDocument{key, cursor->event_seq, now, response.body});
    }
    return response;
}

Response Api::board(const Request& request) {
    auto filter = parse_board_query(request.query);
    if (!filter) {
        return Response{400, json_error(filter.error().message()), ""};
    }
    std::lock_guard lock(m_store_mutex);
    return cached(cache_key("board", request), [&]() -> Response {
        app::RunService service(m_project, m_store, m_runner, m_cancel);
        // The filters are the store's (indexed), so a busy environment's board is not crowded
        // out of the scan by other environments' runs.
        store::RunFilter scan{filter->env, filter->checklist, "", k_board_scan};
        scan.brief = true;
        auto runs = service.list(scan);
        if (!runs) {
            return from_error(runs.error());
        }
        // The checklists of the active runs, each text parsed once.
        std::map<std::string, Result<checklist::Checklist>> parsed;
        auto steps_of = [&](const store::RunRecord& brief) -> Result<std::vector<app::StepView>> {
            auto run = m_store.get_run(brief.id);
            if (!run) {
                return tl::unexpected(run.error());
            }
            auto at = parsed.find(run->checklist_text);
            if (at == parsed.end()) {
                at = parsed
                         .emplace(
                             run->checklist_text,
                             checklist::parse_checklist(run->checklist_text, run->checklist_path))
                         .first;
            }
            if (!at->second) {
                return tl::unexpected(at->second.error());
            }
            auto records = m_store.get_steps(brief.id);
            if (!records) {
                return tl::unexpected(records.error());
            }
            std::vector<app::StepView> views;
            for (const auto& step : at->second->steps) {
                app::StepView v;
                v.record.run_id = brief.id;
                v.record.step_id = step.id;
                v.record.state = "pending";
                for (const auto& r : *records) {
                    if (r.step_id == step.id) {
                        v.record = r;
                    }
                }
                v.kind = step.kind == checklist::StepKind::manual ? "manual" : "command";
                v.role = step.role;
                views.push_back(std::move(v));
            }
            return views;
        };
        // The CI cards: the newest pipelines (each ref's newest decides).
        store::CiFilter ci_scan;
        ci_scan.limit = k_ci_board_scan;
        auto pipelines = m_store.find_ci_pipelines(ci_scan);
        if (!pipelines) {
            return from_error(pipelines.error());
        }
        auto board = compute_board(*runs, steps_of, *filter, *pipelines);
        if (!board) {
            return from_error(board.error());
        }
        return Response{200, json_board(*board), ""};
    });
}

Response Api::environments() {
    std::lock_guard lock(m_store_mutex);
    auto view = compute_environments(m_project, m_store, app::now_ms());
    if (!view) {
        return from_error(view.error());
    }
    return Response{200, json_environments(*view), ""};
}

Response Api::history(const Request& request) {
    auto query = parse_history_query(request.query);
    if (!query) {
        return Response{400, json_error(query.error().message()), ""};
    }
    std::lock_guard lock(m_store_mutex);
    return cached(cache_key("history", request), [&]() -> Response {
        app::RunService service(m_project, m_store, m_runner, m_cancel);
        store::RunFilter scan{"", query->checklist, "", k_history_scan};
        scan.brief = true;
        auto runs = service.list(scan);
        if (!runs) {
            return from_error(runs.error());
        }
        return Response{200, json_history(compute_history(*runs, *query, app::now_ms())), ""};
    });
}

Response Api::releases() {
    std::lock_guard lock(m_store_mutex);
    // Cached like the board: a sign-off is a file, not a store change, so a new one shows
    // within k_dashboard_cache_age.
    return cached("releases", [&]() -> Response {
        app::ReleaseService service(m_project, &m_store, m_runner);
        auto view = compute_releases(m_project, service);
        if (!view) {
            // A missing allowed_signers (while a stage wants sign-offs) is a server-side
            // problem too: it is not the request that names a missing thing.
            if (view.error().code() == Errc::not_found) {
                return Response{500, json_error(view.error().message()), ""};
            }
            return from_error(view.error());
        }
        return Response{200, json_releases(*view), ""};
    });
}

}  // namespace shipshape::server
