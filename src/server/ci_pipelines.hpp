// The CI routes of `shipshape serve` (#19, docs/specs/api.md "CI"): the pipelines of the store's
// CI queue (store/ci.hpp) per commit, one pipeline with each job's parsed results, its cancel,
// and the board's cards of failing pipelines. Pure: the Api (api_ci.cpp) reads the store and
// calls these; the JSON is in ci_json.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "app/users.hpp"
#include "core/error.hpp"
#include "server/board.hpp"
#include "server/query.hpp"
#include "store/ci.hpp"

namespace shipshape::server {

// The roles that may cancel a pipeline (POST /api/v1/ci/pipelines/{id}/cancel), as they may
// push: developers, operators and administrators. Any one of them is enough.
inline constexpr std::array<std::string_view, 3> k_ci_cancel_roles = {"admin", "dev", "ops"};
bool may_cancel_ci(const app::Identity& who);

// How many pipelines the board looks at for its CI cards (newest first).
inline constexpr int k_ci_board_scan = 200;

// Parses ?ref=&commit=&status=&limit= of GET /api/v1/ci/pipelines, each at most once: ref a name
// ("main" means refs/heads/main, as `ci status` reads it), commit 4 to 40 hex digits (a prefix),
// status one of queued, running, passed, failed, cancelled, limit 1 to k_max_limit (default
// k_default_limit). Errc::invalid_argument naming the parameter.
[[nodiscard]] Result<store::CiFilter> parse_ci_query(const Query& query);

// The pipeline id of a path segment: digits only, at most 18 of them; nullopt otherwise (the
// route then answers 404, as for an unknown id).
std::optional<int64_t> parse_pipeline_id(std::string_view segment);

// A repository as the API shows it: a URL without its user and password.
std::string shown_repo(std::string_view repo);

// The job a failed pipeline's card names: its first failed (else cancelled) job; nullptr when
// it has none (it failed before any job ran: `reason`).
const store::CiJob* failing_job(const store::CiPipeline& pipeline);

// The board's CI cards (board.hpp): one per ref (of one repository) whose newest pipeline
// failed, from `pipelines` newest first; newest first, kind "ci".
std::vector<BoardCard> ci_board_cards(const std::vector<store::CiPipeline>& pipelines);

// The documents (ci_json.cpp). The list carries each job without its results; the single
// pipeline carries each job's results parsed (app::parse_ci_results): test counts, failed tests,
// faults, artifacts, failed steps ("results": null when the job has none yet).
std::string json_ci_pipelines(const std::vector<store::CiPipeline>& pipelines);
std::string json_ci_pipeline(const store::CiPipeline& pipeline);
std::string json_ci_cancelled(const store::CiPipeline& after, int64_t changed, std::string_view by);

}  // namespace shipshape::server
