// shipshape.toml's [image] table: the thresholds of `image check` (image::CheckPolicy). Its own
// header, light, so that project loading can check the table with the rest of the file.
#pragma once

#include <string_view>

#include "core/diagnostic.hpp"
#include "core/error.hpp"
#include "image/check.hpp"

namespace shipshape::app {

struct Project;

// Reads [image] from shipshape.toml's `text`: patch_max (an integer >= 0) and rebuild_on
// (package-name globs), the defaults of image::CheckPolicy for what it leaves out. Problems
// (wrong types, unknown keys, empty globs; a TOML syntax error) are added to `diags` with
// their positions; what could be read is returned.
image::CheckPolicy read_check_policy(std::string_view text, std::string_view path,
                                     Diagnostics& diags);

// The same as one result: Errc::invalid_definition listing every problem.
[[nodiscard]] Result<image::CheckPolicy> parse_check_policy(std::string_view text,
                                                            std::string_view path);

// parse_check_policy of the project's shipshape.toml.
[[nodiscard]] Result<image::CheckPolicy> load_check_policy(const Project& project);

}  // namespace shipshape::app
