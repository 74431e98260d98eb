// The `shipshape` binary: every command but `fault`, which lives in `shipshape-fault` beside
// it (see exec_fault_binary). Hosts run `shipshape-agent` (agent_main.cpp), which the
// controller copies to them; `shipshape agent` is the same agent commands, with reports
// into a store too.
#include <unistd.h>

#include <limits.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include "cli/agent_cmds.hpp"
#include "cli/audit_view.hpp"
#include "cli/entry.hpp"
#include "cli/image_cmds.hpp"
#include "state/accounts.hpp"

#include "cli/exit_code.hpp"
#include "os/self_exe.hpp"

namespace {

using namespace shipshape::cli;

void add_fault_stub(CLI::App& app, std::vector<Command>& out);
void add_agent(CLI::App& app, std::vector<Command>& out);

constexpr CommandEntry k_commands[] = {
    {"init", add_init_command},
    {"validate", add_validate_command},
    {"run", add_run_command},
    {"resume", add_resume_command},
    {"check-off", add_check_off_command},
    {"undo", add_undo_command},
    {"runs", add_runs_command},
    {"show", add_show_command},
    {"hosts", add_hosts_command},
    {"facts", add_facts_command},
    {"require", add_require_command},
    {"plan", add_state_commands},
    {"apply", add_state_commands},
    {"drift", add_state_commands},
    {"fault", add_fault_stub},
    {"exec", add_fleet_commands},
    {"agent", add_agent},
    {"serve", add_serve_command},
    {"store", add_store_commands},
    {"user", add_user_commands},
    {"package", add_package_commands},
    {"versions", add_versions_command},
    {"release", add_release_commands},
    {"sign-off", add_sign_off_command},
    {"audit", add_audit_commands},
    {"image", add_image_commands},
    {"lab", add_lab_commands},
    {"ci", add_ci_commands},
};

// `shipshape fault` is a separate executable so that the fault libraries (libnftables,
// libfuse3, libnetfilter_queue and the eight they pull in) are loaded only by the command that
// uses them: linked into `shipshape`, their relocations and initialisers tripled the start-up
// of every command. The argv is passed on unchanged (global options included) and the process
// stays the same (exec), so signals and exit status are the fault command's own.
[[noreturn]] void exec_fault_binary(char** argv) {
    std::string path = shipshape::os::self_exe();
    path = path.substr(0, path.rfind('/') + 1);  // its directory, with the slash
    path += "shipshape-fault";
    ::execv(path.c_str(), argv);
    int err = errno;
    std::fprintf(stderr, "shipshape: 'shipshape fault' needs %s (installed beside shipshape): %s\n",
                 path.c_str(), std::strerror(err));
    std::fflush(stderr);
    ::_exit(to_int(ExitCode::unsupported));
}

// Only for the command list of --help: `fault` never reaches the parser here.
void add_fault_stub(CLI::App& app, std::vector<Command>& /*out*/) {
    app.add_subcommand("fault",
                       "Run a command with real faults: lossy network, blocked ports, full disks, "
                       "failing I/O, memory limits, clock skew. Exits with the command's status.");
}

void add_agent(CLI::App& app, std::vector<Command>& out) {
    add_agent_command(app, out, store_pull_reporter());
}

}  // namespace

int main(int argc, char** argv) {
    // The agent starts once per host and operation: skip building the command line.
    if (argc == 2 && std::string_view(argv[1]) == "agent") {
        return run_agent_serve(0);
    }
    // Users and groups from LDAP and friends too (the static agent reads only the files).
    shipshape::state::use_nss();
    int at = first_command_index(argc, argv);
    if (at < argc && std::string_view(argv[at]) == "fault") {
        exec_fault_binary(argv);
    }
    return run_cli(argc, argv, k_commands);
}
