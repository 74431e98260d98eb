// `shipshape init`: scaffolds a working ops repo. Never overwrites: an existing shipshape.toml
// (or any file it would write) makes it fail with Errc::already_exists before writing anything.
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"

namespace shipshape::app {

// Creates DIR (and parents) and the sample files; returns the paths written, relative to DIR.
[[nodiscard]] Result<std::vector<std::string>> init_project(const std::string& dir,
                                                            const std::string& name);

}  // namespace shipshape::app
