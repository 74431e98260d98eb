// The `image` and `lab` command groups, split by file: cmd_image.cpp makes the group and adds
// snapshot/build/list/rm; the other files add their subcommands to it.
#pragma once

#include <vector>

#include "app/image_service.hpp"
#include "cli/context.hpp"

namespace CLI {
class App;
}

namespace shipshape::cli {

void add_image_commands(CLI::App& app, std::vector<Command>& out);
// `image run IMG [--limits prod|none] [--network none|host] [--hostname H]
// [--bind SRC:DST[:rw]]… -- CMD…` (cmd_image_run.cpp), added to the `image` group.
void add_image_run(CLI::App& image, std::vector<Command>& out);
// `lab up|down|status` (cmd_lab.cpp).
void add_lab_commands(CLI::App& app, std::vector<Command>& out);

// `image check HOSTS --against IMAGE` and `image schedule --weekly` (cmd_image_check.cpp).
void add_image_check(CLI::App& image, std::vector<Command>& out);
void add_image_schedule(CLI::App& image, std::vector<Command>& out);

// The overlay launcher image build applies its layer with.
app::OverlayExec overlay_exec(os::ProcessRunner& runner);

// JSON of image records (image list --json, image build --json).
std::string json_image(const image::ImageRecord& r, const std::vector<std::string>& names);
std::string json_images(const std::vector<image::ImageRecord>& images,
                        const std::vector<std::vector<std::string>>& names);

}  // namespace shipshape::cli
