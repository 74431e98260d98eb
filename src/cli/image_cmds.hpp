// The `image` group's subcommands, one registrar per file (cmd_image_*.cpp); cmd_image.cpp
// creates the group and calls each.
#pragma once

#include <vector>

#include "cli/context.hpp"

namespace shipshape::cli {

// The group (cmd_image.cpp).
void add_image_commands(CLI::App& app, std::vector<Command>& out);

// `image check HOSTS --against IMAGE` and `image schedule --weekly` (cmd_image_check.cpp).
void add_image_check(CLI::App& image, std::vector<Command>& out);
void add_image_schedule(CLI::App& image, std::vector<Command>& out);

}  // namespace shipshape::cli
