// The `image` subcommands that live in their own files, added to the `image` group by the
// file that makes it (cmd_image.cpp).
#pragma once

#include <vector>

#include "cli/context.hpp"

namespace shipshape::cli {

// `image run IMG [--limits image|prod|none] [--network none|host] [--hostname H]
// [--bind SRC:DST[:rw]]… -- CMD…` (cmd_image_run.cpp).
void add_image_run(CLI::App& image, std::vector<Command>& out);
// The `image` group (cmd_image.cpp; until it lands, cmd_image_tmp_A.cpp).
void add_image_commands(CLI::App& app, std::vector<Command>& out);
// `lab up|down|status` (cmd_lab.cpp).
void add_lab_commands(CLI::App& app, std::vector<Command>& out);

}  // namespace shipshape::cli
