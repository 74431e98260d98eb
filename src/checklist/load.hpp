// Loading and validating checklists. parse_checklist is pure (text in, model out); the caller
// reads the file. Every problem is collected and reported at once as one Errc::invalid_definition
// error whose message has one "file:line:col: message" line per problem, in file order.
#pragma once

#include <functional>

#include <string>
#include <string_view>
#include <vector>

#include "checklist/model.hpp"
#include "core/error.hpp"
#include "core/template.hpp"

namespace shipshape::checklist {

// Variables every checklist may use besides its own params.
inline const std::vector<std::string> k_builtin_variables = {"env", "run", "repo"};

// Parses TOML text into a validated Checklist. `path` is used in messages only. `name` defaults
// to the file name without ".toml".
[[nodiscard]] Result<Checklist> parse_checklist(std::string_view text, std::string_view path);

// Returns the variables for a run: params (from `values`, else their defaults) plus the given
// builtins. Errc::invalid_argument names unknown params and missing required ones.
[[nodiscard]] Result<Variables> bind_params(
    const Checklist& checklist, const std::vector<std::pair<std::string, std::string>>& values,
    const Variables& builtins);

// The hosts a fleet step's `on` names, each with its template variables ("host",
// "host.address", "host.tags.rack", ...). An error names a pattern matching nothing.
struct HostVars {
    std::string name;
    Variables vars;
};
using HostResolver = std::function<Result<std::vector<HostVars>>(const std::string& pattern)>;

// Returns a copy of `checklist` with every {{name}} substituted from `vars`. Steps with `on`
// get one rendered copy per host (Step::per_host) from `hosts`, whose variables add to `vars`
// except for "facts.*": a host's copy sees only the facts its HostVars carry; the step itself
// keeps its {{host...}} and {{facts...}} placeholders for display.
[[nodiscard]] Result<Checklist> render_checklist(const Checklist& checklist, const Variables& vars,
                                                 const HostResolver& hosts = {});

// Returns the step ids in a deterministic topological order (file order among ready steps).
std::vector<std::string> topological_order(const Checklist& checklist);

}  // namespace shipshape::checklist
