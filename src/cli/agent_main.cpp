// `shipshape-agent`: what a host runs, and all it carries (docs/agent.md): facts, exec with
// timeouts, state plan/apply/drift, installed packages, pull mode. A controller copies it to
// hosts and starts `shipshape-agent agent --protocol N` over ssh. Linked statically and
// stripped, without the store, the server, FUSE or nftables, so that it runs on any Linux host
// of this architecture whatever libraries the host has.
#include <charconv>
#include <string_view>

#include "cli/agent_cmds.hpp"
#include "cli/entry.hpp"

namespace {

using namespace shipshape::cli;

void add_agent(CLI::App& app, std::vector<Command>& out) {
    add_agent_command(app, out, {});
}

constexpr CommandEntry k_commands[] = {
    {"agent", add_agent},
    {"plan", add_agent_state_commands},
    {"apply", add_agent_state_commands},
    {"drift", add_agent_state_commands},
};

}  // namespace

int main(int argc, char** argv) {
    // A controller starts the agent once per host and connection: skip building the command
    // line for the one form it uses.
    if (argc == 4 && std::string_view(argv[1]) == "agent" &&
        std::string_view(argv[2]) == "--protocol") {
        std::string_view given = argv[3];
        int protocol = -1;  // not a number: no protocol this agent speaks
        std::from_chars(given.data(), given.data() + given.size(), protocol);
        return run_agent_serve(protocol);
    }
    Program program;
    program.name = "shipshape-agent";
    program.description =
        "shipshape-agent: the host's end of shipshape. Serves a controller over ssh (agent),\n"
        "pulls and converges the ops repo on a timer (agent pull), plans and applies state.";
    return run_cli(argc, argv, k_commands, program);
}
