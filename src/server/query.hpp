// Query parameters of the dashboard's read routes (board, history): a fixed set of known
// names, each at most once, with values that are names (1 to 200 characters, no control
// characters) unless the route says otherwise. Pure.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace shipshape::server {

using Query = std::vector<std::pair<std::string, std::string>>;

// Returns the parameters of `query` in request order. Errc::invalid_argument for a name not in
// `known` (listing them), a name given twice, or a value that is not a name -- except the
// parameters listed in `free_form`, whose values are returned unchecked.
[[nodiscard]] Result<Query> parse_name_query(const Query& query,
                                             const std::vector<std::string>& known,
                                             const std::vector<std::string>& free_form = {});

}  // namespace shipshape::server
