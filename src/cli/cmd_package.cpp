// shipshape package build|inspect|diff: the `package` command group. Each subcommand lives in
// its own file (cmd_package_*.cpp) and adds itself through one line of k_subcommands.
#include <CLI/CLI.hpp>

#include <vector>

#include "cli/context.hpp"

namespace shipshape::cli {

namespace {

// One registrar per subcommand, in the order --help lists them.
const std::vector<void (*)(CLI::App& package, std::vector<Command>& out)> k_subcommands = {
    add_package_build,
    add_package_inspect,
    add_package_diff,
};

}  // namespace

void add_package_commands(CLI::App& app, std::vector<Command>& out) {
    auto* package = app.add_subcommand(
        "package",
        "Build Debian packages with a full manifest, inspect any .deb, and review what an "
        "upgrade changes on a host");
    package->require_subcommand(1);
    for (auto add : k_subcommands) {
        add(*package, out);
    }
}

}  // namespace shipshape::cli
