#include "cli/entry.hpp"

#include <signal.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <limits.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "cli/exit_code.hpp"
#include "core/error.hpp"

#ifndef SHIPSHAPE_VERSION
#define SHIPSHAPE_VERSION "0.0.0"
#endif

namespace shipshape::cli {

namespace {

const os::CancelSource* g_cancel = nullptr;

extern "C" void on_stop_signal(int) {
    if (g_cancel) {
        g_cancel->cancel();
    }
}

void install_signal_handlers(const os::CancelSource& cancel) {
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

int run(int argc, char** argv, std::span<const CommandEntry> entries, const Program& program) {
    CLI::App app(program.description, program.name);
    app.set_version_flag("--version,-V", std::string(program.name) + " " + SHIPSHAPE_VERSION);
    app.require_subcommand(1);
    app.fallthrough();
    app.footer(std::string("\n") + k_exit_code_help + "\nRun '" + program.name +
               " COMMAND --help' for a command's options. Manual: docs/manual.md");
    Context ctx;
    app.add_option("-C", ctx.directory,
                   "use the ops repo in DIR (default: search upward for shipshape.toml)")
        ->option_text("DIR");
    app.add_flag("--json", ctx.json, "print machine-readable JSON (run/resume/undo: JSON lines)");

    // Build only the named command's tree when the name is known; else all (help, errors).
    std::vector<Registrar> chosen;
    int at = first_command_index(argc, argv);
    if (at < argc) {
        std::string_view name = argv[at];
        for (const auto& e : entries) {
            if (e.name == name) {
                chosen.push_back(e.add);
            }
        }
    }
    bool version_only = at < argc && (std::string_view(argv[at]) == "--version" ||
                                      std::string_view(argv[at]) == "-V");
    if (chosen.empty() && !version_only) {
        for (const auto& e : entries) {
            if (std::find(chosen.begin(), chosen.end(), e.add) == chosen.end()) {
                chosen.push_back(e.add);
            }
        }
    }
    std::vector<Command> commands;
    for (Registrar add : chosen) {
        add(app, commands);
    }

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
    if (const char* store = std::getenv("SHIPSHAPE_STORE")) {
        ctx.store = store;
    }
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

int first_command_index(int argc, char** argv) {
    int i = 1;
    while (i < argc) {
        std::string_view a = argv[i];
        if (a == "-C") {
            i += 2;
        } else if (a.starts_with("-C") || a == "--json") {
            ++i;
        } else {
            break;
        }
    }
    return std::min(i, argc);
}

int run_cli(int argc, char** argv, std::span<const CommandEntry> commands, const Program& program) {
    try {
        return run(argc, argv, commands, program);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "shipshape: internal error: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "shipshape: internal error\n");
    }
    return to_int(ExitCode::internal);
}

}  // namespace shipshape::cli
