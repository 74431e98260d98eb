#include "server/board.hpp"

#include <algorithm>
#include <array>
#include <set>

#include "core/text.hpp"
#include "server/ci_pipelines.hpp"
#include "server/query.hpp"

namespace shipshape::server {

namespace {

enum Column : size_t { planned, running, waiting, failed, done, column_count };

constexpr std::array<std::string_view, column_count> k_column_names = {"planned", "running",
                                                                       "waiting", "failed", "done"};

// The column a run's own card goes to; column_count for none (a waiting run shows its steps).
size_t column_of(std::string_view status) {
    if (status == "running" || status == "undoing") {
        return running;
    }
    if (status == "failed" || status == "interrupted" || status == "undo-failed") {
        return failed;
    }
    if (status == "done" || status == "undone") {
        return done;
    }
    return column_count;
}

BoardCard card_for(const store::RunRecord& r) {
    BoardCard c;
    c.run = r.id;
    c.checklist = r.checklist_name;
    c.env = r.env;
    c.status = r.status;
    c.user = r.user;
    c.started_at_ms = r.started_at;
    c.updated_at_ms = r.updated_at;
    return c;
}

void add(BoardColumn& column, BoardCard card) {
    ++column.count;
    if (column.cards.size() < k_board_cards) {
        column.cards.push_back(std::move(card));
    }
}

}  // namespace

Result<BoardFilter> parse_board_query(
    const std::vector<std::pair<std::string, std::string>>& query) {
    BoardFilter f;
    auto parsed = parse_name_query(query, {"checklist", "env"});
    if (!parsed) {
        return tl::unexpected(parsed.error());
    }
    for (const auto& [name, value] : *parsed) {
        (name == "env" ? f.env : f.checklist) = value;
    }
    return f;
}

Result<Board> compute_board(const std::vector<store::RunRecord>& runs, const StepsOf& steps_of,
                            const BoardFilter& filter,
                            const std::vector<store::CiPipeline>& pipelines) {
    Board board;
    for (size_t i = 0; i < column_count; ++i) {
        board.columns.push_back(BoardColumn{std::string(k_column_names[i]), 0, {}});
    }
    if (filter.env.empty() && filter.checklist.empty()) {
        for (auto& card : ci_board_cards(pipelines)) {
            add(board.columns[failed], std::move(card));
        }
    }
    std::set<std::string> ci_runs;  // the runs of CI jobs: their pipelines speak for them
    for (const auto& p : pipelines) {
        for (const auto& job : p.jobs) {
            if (!job.run_id.empty()) {
                ci_runs.insert(job.run_id);
            }
        }
    }
    for (const auto& r : runs) {
        if ((!filter.env.empty() && r.env != filter.env) ||
            (!filter.checklist.empty() && r.checklist_name != filter.checklist) ||
            ci_runs.contains(r.id)) {
            continue;
        }
        ++board.runs_considered;
        size_t own = column_of(r.status);
        bool active = r.status == "running" || r.status == "waiting";
        if (!active) {
            if (own != column_count) {
                add(board.columns[own], card_for(r));
            }
            continue;
        }
        auto steps = steps_of(r);
        if (!steps) {
            return tl::unexpected(steps.error());
        }
        std::string running_step;
        for (const auto& v : *steps) {
            const auto& state = v.record.state;
            if (state == "running" && running_step.empty()) {
                running_step = v.record.step_id;
            }
            if (v.kind != "manual" || (state != "waiting" && state != "pending")) {
                continue;
            }
            BoardCard c = card_for(r);
            c.step = v.record.step_id;
            c.role = v.role;
            add(board.columns[state == "waiting" ? waiting : planned], std::move(c));
        }
        if (own == running) {
            BoardCard c = card_for(r);
            c.step = running_step;
            add(board.columns[running], std::move(c));
        }
    }
    return board;
}

}  // namespace shipshape::server
