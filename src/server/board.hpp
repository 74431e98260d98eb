// GET /api/v1/board: the team's work as a Kanban, computed from the store on every request and
// never kept anywhere (docs/specs/api.md, "Board"). Columns, in order:
//   planned  -- manual steps not reached yet (still pending) in runs that are running or
//               waiting: the hand-offs coming up, one card per step, naming its role;
//   running  -- runs running or undoing (the card names a step that is running, if any);
//   waiting  -- manual steps waiting for a check-off, one card per step, naming step and role;
//   failed   -- failing CI pipelines first (the newest pipeline of a ref failed: one card, kind
//               "ci", naming the failing job and test), then runs failed, interrupted or
//               undo-failed;
//   done     -- runs done or undone.
// A column's count is its number of cards (its WIP); it lists at most k_board_cards of them,
// newest run first. Only the newest k_board_scan runs are looked at. A run that is a CI job's
// (of `pipelines`) has no card of its own: its pipeline is the CI view's, and a failing one is
// a card. CI cards are shown only when no filter is given (they have no environment).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "app/runs.hpp"
#include "core/error.hpp"
#include "store/ci.hpp"
#include "store/store.hpp"

namespace shipshape::server {

inline constexpr int k_board_scan = 1000;
inline constexpr size_t k_board_cards = 50;

struct BoardFilter {
    std::string env;        // empty: any
    std::string checklist;  // empty: any (the checklist's name)
};

struct BoardCard {
    std::string kind = "run";  // "run", or "ci": a failing CI pipeline (ci_pipelines.hpp)
    std::string run;           // ci: the failing job's run ("" before it started)
    std::string checklist;
    std::string env;
    std::string status;  // the run's status
    std::string step;    // waiting/planned: the manual step; running: a running step, or ""
    std::string role;    // waiting/planned: the step's role
    std::string user;    // who started the run
    int64_t started_at_ms = 0;
    int64_t updated_at_ms = 0;
    // ci cards: the pipeline, its ref and commit, and its failing job: the job's name, the
    // failing step or test ("test calc.test_add"; "definition" for an invalid
    // .shipshape-ci.toml), and one line of why.
    int64_t pipeline = 0;
    std::string ref;
    std::string commit;
    std::string job;
    std::string failing;
    std::string detail;
};

struct BoardColumn {
    std::string name;
    size_t count = 0;
    std::vector<BoardCard> cards;  // at most k_board_cards
};

struct Board {
    std::vector<BoardColumn> columns;  // planned, running, waiting, failed, done
    size_t runs_considered = 0;
};

// The steps of a run as RunService::show gives them; asked only for running and waiting runs.
using StepsOf = std::function<Result<std::vector<app::StepView>>(const store::RunRecord&)>;

// Parses ?env=&checklist= (each a name of 1 to 200 characters without control characters,
// given at most once). Errc::invalid_argument naming the parameter.
[[nodiscard]] Result<BoardFilter> parse_board_query(
    const std::vector<std::pair<std::string, std::string>>& query);

// Builds the board from `runs` (newest first). Errc from `steps_of` is passed on.
// `pipelines`: the newest CI pipelines, newest first (k_ci_board_scan of them).
[[nodiscard]] Result<Board> compute_board(const std::vector<store::RunRecord>& runs,
                                          const StepsOf& steps_of, const BoardFilter& filter,
                                          const std::vector<store::CiPipeline>& pipelines = {});

std::string json_board(const Board& board);

}  // namespace shipshape::server
