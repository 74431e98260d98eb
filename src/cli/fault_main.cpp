// The `shipshape-fault` binary: `shipshape fault`, exec'd by `shipshape` with the same argv.
// It carries the fault libraries so that `shipshape` does not (see main.cpp).
#include "cli/entry.hpp"

namespace {

constexpr shipshape::cli::CommandEntry k_commands[] = {
    {"fault", shipshape::cli::add_fault_command},
};

}  // namespace

int main(int argc, char** argv) {
    return shipshape::cli::run_cli(argc, argv, k_commands);
}
