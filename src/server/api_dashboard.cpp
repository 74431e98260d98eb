// The dashboard's read routes of the Api (board.hpp, environments.hpp, history.hpp): each
// reads the store under the Api's store mutex and answers a document computed from it.
#include "app/runs.hpp"
#include "server/api.hpp"
#include "server/api_json.hpp"
#include "server/board.hpp"
#include "server/environments.hpp"
#include "server/history.hpp"

namespace shipshape::server {

Response Api::board(const Request& request) {
    auto filter = parse_board_query(request.query);
    if (!filter) {
        return Response{400, json_error(filter.error().message()), ""};
    }
    std::lock_guard lock(m_store_mutex);
    app::RunService service(m_project, m_store, m_runner, m_cancel);
    // The filters are the store's (indexed), so a busy environment's board is not crowded out of
    // the scan by other environments' runs.
    auto runs = service.list(store::RunFilter{filter->env, filter->checklist, "", k_board_scan});
    if (!runs) {
        return from_error(runs.error());
    }
    auto steps_of = [&](const store::RunRecord& run) -> Result<std::vector<app::StepView>> {
        auto details = service.show(run.id);
        if (!details) {
            return tl::unexpected(details.error());
        }
        return std::move(details->steps);
    };
    auto board = compute_board(*runs, steps_of, *filter);
    if (!board) {
        return from_error(board.error());
    }
    return Response{200, json_board(*board), ""};
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
    app::RunService service(m_project, m_store, m_runner, m_cancel);
    auto runs = service.list(store::RunFilter{"", query->checklist, "", k_history_scan});
    if (!runs) {
        return from_error(runs.error());
    }
    return Response{200, json_history(compute_history(*runs, *query, app::now_ms())), ""};
}

}  // namespace shipshape::server
