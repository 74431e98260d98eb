// {{name}} substitution in checklist strings. Names are looked up in a flat map; whitespace
// inside the braces is ignored. Pure functions, no I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape {

using Variables = std::map<std::string, std::string, std::less<>>;

// Returns the names referenced by `text`, in order of appearance (duplicates kept), or
// Errc::invalid_argument for an unclosed "{{" or an empty/malformed name.
[[nodiscard]] Result<std::vector<std::string>> template_names(std::string_view text);

// Returns `text` with every {{name}} replaced from `vars`, or Errc::invalid_argument naming the
// first unknown variable or syntax problem.
[[nodiscard]] Result<std::string> render_template(std::string_view text, const Variables& vars);

}  // namespace shipshape
