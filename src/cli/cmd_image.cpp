// TEMPORARY (helper B of #18): the `image` group with only check and schedule, until the
// integrator's cmd_image.cpp (snapshot, build, list, rm; it calls add_image_check and
// add_image_schedule) replaces this file.
#include <CLI/CLI.hpp>

#include "cli/image_cmds.hpp"

namespace shipshape::cli {

void add_image_commands(CLI::App& app, std::vector<Command>& out) {
    auto* image = app.add_subcommand("image", "Production images: check hosts against them");
    image->require_subcommand(1);
    add_image_check(*image, out);
    add_image_schedule(*image, out);
}

}  // namespace shipshape::cli
