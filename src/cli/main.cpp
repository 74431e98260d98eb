// The shipshape command line: global options, one subcommand per file, and the single place
// where an unexpected exception becomes "internal error" (exit 70).
#include <signal.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <limits.h>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "core/error.hpp"

#ifndef SHIPSHAPE_VERSION
#define SHIPSHAPE_VERSION "0.0.0"
#endif

namespace {

const shipshape::os::CancelSource* g_cancel = nullptr;

extern "C" void on_stop_signal(int) {
    if (g_cancel) {
        g_cancel->cancel();
    }
}

void install_signal_handlers(const shipshape::os::CancelSource& cancel) {
    g_cancel = &cancel;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

int run(int argc, char** argv) {
    using namespace shipshape;
    using namespace shipshape::cli;

    // The agent starts once per host and operation: skip building the command line.
    if (argc == 2 && std::string_view(argv[1]) == "agent") {
        return run_agent();
    }

    CLI::App app(
        "shipshape: checklists as code. Runs an ops repo's deploy checklists, fast,\n"
        "in parallel where it can, stopping for people where it must.",
        "shipshape");
    app.set_version_flag("--version,-V", std::string("shipshape ") + SHIPSHAPE_VERSION);
    app.require_subcommand(1);
    app.fallthrough();
    app.footer(std::string("\n") + k_exit_code_help +
               "\nRun 'shipshape COMMAND --help' for a command's options. Manual: docs/manual.md");
    Context ctx;
    app.add_option("-C", ctx.directory,
                   "use the ops repo in DIR (default: search upward for shipshape.toml)")
        ->option_text("DIR");
    app.add_flag("--json", ctx.json, "print machine-readable JSON (run/resume/undo: JSON lines)");

    std::vector<Command> commands;
    add_init_command(app, commands);
    add_validate_command(app, commands);
    add_run_command(app, commands);
    add_resume_command(app, commands);
    add_check_off_command(app, commands);
    add_undo_command(app, commands);
    add_runs_command(app, commands);
    add_show_command(app, commands);
    add_hosts_command(app, commands);
    add_facts_command(app, commands);
    add_require_command(app, commands);
    add_state_commands(app, commands);
    add_fault_command(app, commands);
    add_fleet_commands(app, commands);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : to_int(ExitCode::usage);
    }

    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) {
        std::fprintf(stderr, "shipshape: cannot read the working directory\n");
        return to_int(ExitCode::failed);
    }
    ctx.cwd = cwd;
    ctx.tty = ::isatty(STDOUT_FILENO) != 0;
    const char* no_color = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    ctx.color = ctx.tty && !(no_color && *no_color) && !(term && std::string_view(term) == "dumb");
    auto cancel = os::CancelSource::create();
    if (!cancel) {
        return report_error(ctx, cancel.error());
    }
    ctx.cancel = &*cancel;
    install_signal_handlers(*cancel);

    for (auto& c : commands) {
        if (c.app->parsed()) {
            return c.handler(ctx);
        }
    }
    return to_int(ExitCode::usage);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "shipshape: internal error: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "shipshape: internal error\n");
    }
    return shipshape::cli::to_int(shipshape::cli::ExitCode::internal);
}
