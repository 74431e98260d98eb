// The start shared by the executables, `shipshape`, `shipshape-fault` and `shipshape-agent`: global
// options
// (-C, --json), the subcommands a binary carries, signal handlers feeding the shared
// CancelSource, and the single place where an unexpected exception becomes "internal error"
// (exit 70).
//
// Start-up cost: only the subcommand named on the command line is built into the CLI11 tree
// (all of them when none is named, for --help and the usage error), so a command does not
// pay for the option trees of the other fifteen.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "cli/context.hpp"

namespace shipshape::cli {

using Registrar = void (*)(CLI::App&, std::vector<Command>&);

// One row per command name a registrar adds (a registrar may add several).
struct CommandEntry {
    std::string_view name;
    Registrar add;
};

// The index in argv of the first argument that is not a global option (-C DIR, -CDIR,
// --json), or argc when there is none.
int first_command_index(int argc, char** argv);

// The name and one-paragraph description a binary's --help opens with.
struct Program {
    const char* name = "shipshape";
    const char* description =
        "shipshape: checklists as code. Runs an ops repo's deploy checklists, fast,\n"
        "in parallel where it can, stopping for people where it must.";
};

// Parses argv with `commands` and runs the chosen one. Returns the exit code; catches
// everything, so `main` is one line.
int run_cli(int argc, char** argv, std::span<const CommandEntry> commands,
            const Program& program = {});

}  // namespace shipshape::cli
