// shipshape fault [FAULT…] [--profile P] [--report FILE] -- COMMAND…: run a command where
// failures are real, then say which of them fired.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>

#include "app/fault_service.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "faults/fault.hpp"
#include "faults/fault_kinds.hpp"
#include "faults/sandbox.hpp"

namespace shipshape::cli {

namespace {

struct FaultOptions {
    app::FaultRequest request;
    std::string report_file;
    bool cleanup = false;
    bool check = false;
    bool quiet = false;
    std::vector<std::string> command;
};

std::string counts_text(const faults::FaultOutcome& o) {
    std::string text;
    for (const auto& [k, v] : o.counts) {
        text += (text.empty() ? "" : " ") + k + "=" + std::to_string(v);
    }
    return text;
}

void print_summary(const faults::Report& r) {
    std::fprintf(stderr, "shipshape fault: %zu fault%s, set up in %lld ms%s\n", r.faults.size(),
                 r.faults.size() == 1 ? "" : "s", static_cast<long long>(r.setup.count()),
                 r.user_namespace ? " (unprivileged: user namespace)" : "");
    for (const auto& f : r.faults) {
        const char* state = !f.observable ? "n/a      " : f.fired ? "FIRED    " : "not fired";
        std::fprintf(stderr, "  %s  %s [%s] %s\n", state, faults::describe_fault(f.fault).c_str(),
                     f.mechanism.c_str(), counts_text(f).c_str());
        if (!f.note.empty()) {
            std::fprintf(stderr, "             note: %s\n", f.note.c_str());
        }
    }
    for (const auto& c : r.commands) {
        std::string how = c.kind == faults::CommandExit::exited
                              ? "exited " + std::to_string(c.code)
                              : "killed by signal " + std::to_string(c.code);
        if (c.oom_killed) {
            how += " (out of memory: the OOM killer ended it)";
        }
        std::fprintf(stderr, "  command %s after %lld ms\n", how.c_str(),
                     static_cast<long long>(c.elapsed.count()));
    }
}

// `--cleanup`: what was removed on stdout, what was left alone and why on stderr. Exit 1 when
// something could not be removed.
int print_cleanup(const Context& ctx, const faults::CleanupReport& r) {
    for (const auto& p : r.removed) {
        std::printf("removed %s\n", p.c_str());
    }
    for (pid_t pid : r.live) {
        std::fprintf(stderr, "shipshape fault: left alone the sandbox of supervisor %d: it runs\n",
                     pid);
    }
    for (const auto& p : r.left_alone) {
        std::fprintf(stderr,
                     "shipshape fault: left alone %s: not ours (no sandbox record names it; "
                     "remove it by hand if you know it is unused)\n",
                     p.c_str());
    }
    for (const auto& f : r.failures) {
        std::fprintf(stderr, "shipshape fault: %s\n", f.c_str());
    }
    if (r.removed.empty() && r.failures.empty() && !ctx.json) {
        std::fprintf(stderr, "shipshape fault: nothing left over from killed runs\n");
    }
    return to_int(r.failures.empty() ? ExitCode::done : ExitCode::failed);
}

int run_fault(Context& ctx, FaultOptions& o) {
    app::FaultService service;
    if (o.cleanup) {
        return print_cleanup(ctx, service.cleanup());
    }
    o.request.directory = ctx.directory;
    o.request.cwd = ctx.cwd;
    auto all = service.collect(o.request);
    if (!all) {
        return report_error(ctx, all.error());
    }
    if (o.command.empty() && !o.check) {
        return report_error(ctx, Error(Errc::invalid_argument,
                                       "no command: write it after '--', e.g. shipshape fault "
                                       "--loss 20 -- ./tests (or use --check)"));
    }
    if (all->empty() && !o.quiet) {
        std::fprintf(stderr,
                     "shipshape fault: no faults asked; the command runs in a plain sandbox\n");
    }
    auto run = service.run(*all, o.command, ctx.cancel);
    if (!run) {
        return report_error(ctx, run.error());
    }
    if (!o.report_file.empty()) {
        std::ofstream out(o.report_file);
        out << faults::report_to_json(run->report) << "\n";
        if (!out) {
            std::fprintf(stderr, "shipshape fault: cannot write the report to %s\n",
                         o.report_file.c_str());
            return to_int(ExitCode::failed);
        }
    }
    if (ctx.json) {
        std::fflush(stdout);
        std::printf("%s\n", faults::report_to_json(run->report).c_str());
    }
    if (!o.quiet) {
        print_summary(run->report);
    }
    if (o.check && !ctx.json && !o.quiet) {
        std::fprintf(stderr, "shipshape fault: every asked fault can be set up here\n");
    }
    if (run->interrupted) {
        if (!o.quiet) {
            std::fprintf(stderr, "shipshape fault: interrupted\n");
        }
        return to_int(ExitCode::interrupted);
    }
    return run->status;
}

}  // namespace

void add_fault_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<FaultOptions>();
    auto* sub = app.add_subcommand(
        "fault",
        "Run a command with real faults: lossy network, blocked ports, full disks, failing I/O, "
        "memory limits, clock skew. Exits with the command's status.");
    sub->footer(
        "\nExamples:\n"
        "  shipshape fault --loss 20/udp -- ./client_test\n"
        "  shipshape fault --block-port 5432:drop --disk-full /var/lib/app:1M -- make test\n"
        "  shipshape fault --profile db-flaky --report faults.json -- ./integration\n"
        "A window after '@' times a fault from the command's start: --loss 30@2s-5s.\n"
        "Exit status: the command's (128+N if killed by signal N); 2 for invalid faults, 3 when\n"
        "this machine cannot provide one (the message says what is missing); 1 when the fault\n"
        "supervisor was killed from outside (the message names the signal).");
    sub->add_option("--profile,-p", opts->request.profiles,
                    "fault profile: a file, or NAME for faults/NAME.toml in the ops repo")
        ->option_text("FILE|NAME");
    // One flag per fault kind, from the kind table.
    for (const auto& spec : faults::fault_kinds()) {
        faults::FaultKind kind = spec.kind;
        std::string name = "--" + std::string(spec.name);
        std::string help(spec.flag_help);
        if (spec.flag_style == faults::FlagStyle::bare) {
            sub->add_flag_callback(
                name, [opts, kind] { opts->request.flags.emplace_back(kind, ""); }, help);
            continue;
        }
        if (spec.flag_style == faults::FlagStyle::with_port) {
            sub->add_option(name, opts->request.reset_after, help)
                ->option_text(std::string(spec.flag_syntax));
            sub->add_option("--port", opts->request.port, "the port " + name + " applies to")
                ->option_text("PORT");
            continue;
        }
        sub->add_option_function<std::vector<std::string>>(
               name,
               [opts, kind](const std::vector<std::string>& values) {
                   for (const auto& v : values) {
                       opts->request.flags.emplace_back(kind, v);
                   }
               },
               help)
            ->option_text(std::string(spec.flag_syntax))
            ->allow_extra_args(false);
    }
    sub->add_option("--report", opts->report_file,
                    "write the report (which faults fired, how often) as JSON to FILE")
        ->option_text("FILE");
    sub->add_flag("--check", opts->check,
                  "set every asked fault up and tear it down again, running nothing");
    sub->add_flag("--cleanup", opts->cleanup,
                  "remove what killed runs recorded as their own (memory cgroups), then exit");
    sub->add_flag("--quiet,-q", opts->quiet, "no summary on stderr");
    sub->add_option("COMMAND", opts->command, "the command and its arguments, after --");
    out.push_back({sub, [opts](Context& ctx) { return run_fault(ctx, *opts); }});
}

}  // namespace shipshape::cli
