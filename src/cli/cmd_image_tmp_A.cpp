// TEMPORARY (helper A, issue #18): the `image` group until the integrator's cmd_image.cpp
// lands and calls add_image_run itself. Drop this file and its line in main.cpp then.
#include <CLI/CLI.hpp>

#include "cli/image_cmds.hpp"

namespace shipshape::cli {

void add_image_commands(CLI::App& app, std::vector<Command>& out) {
    auto* image = app.add_subcommand("image", "Production images: run commands in them");
    image->require_subcommand(1);
    add_image_run(*image, out);
}

}  // namespace shipshape::cli
