// shipshape fault [FAULT…] [--profile P] [--report FILE] -- COMMAND…: run a command where
// failures are real, then say which of them fired.
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>

#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "core/size.hpp"
#include "faults/fault.hpp"
#include "faults/sandbox.hpp"

namespace shipshape::cli {

namespace {

struct FaultOptions {
    std::vector<std::string> profiles;
    std::vector<std::pair<faults::FaultKind, std::string>> flags;  // in command-line order
    std::string reset_after;
    std::string port;
    std::string report_file;
    bool cleanup = false;
    bool check = false;
    bool quiet = false;
    std::vector<std::string> command;
};

bool file_exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

// A profile is a path, or a name looked up as faults/NAME.toml in the ops repo.
Result<std::string> profile_path(const Context& ctx, const std::string& name) {
    if (file_exists(name) || name.find('/') != std::string::npos || name.ends_with(".toml")) {
        return name;
    }
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return fail(Errc::not_found, "fault profile '" + name +
                                         "': no such file, and no ops repo to look in (" +
                                         repo.error().message() + ")");
    }
    std::string p = repo->project.root + "/faults/" + name + ".toml";
    if (!file_exists(p)) {
        return fail(Errc::not_found, "fault profile '" + name + "': no such file " + p);
    }
    return p;
}

Result<std::vector<faults::Fault>> collect_faults(const Context& ctx, const FaultOptions& o) {
    std::vector<faults::Fault> all;
    for (const auto& name : o.profiles) {
        auto path = profile_path(ctx, name);
        if (!path) {
            return fail(path.error());
        }
        auto profile = faults::load_profile(*path);
        if (!profile) {
            return fail(profile.error());
        }
        all.insert(all.end(), profile->faults.begin(), profile->faults.end());
    }
    for (const auto& [kind, value] : o.flags) {
        auto f = faults::parse_fault_flag(kind, value);
        if (!f) {
            return fail(f.error());
        }
        all.push_back(std::move(*f));
    }
    if (!o.reset_after.empty() || !o.port.empty()) {
        if (o.reset_after.empty() || o.port.empty()) {
            return fail(Errc::invalid_argument,
                        "--reset-after BYTES and --port PORT go together: connections to or "
                        "from PORT are reset after BYTES");
        }
        auto f =
            faults::parse_fault_flag(faults::FaultKind::reset_after, o.reset_after + ":" + o.port);
        if (!f) {
            return fail(f.error());
        }
        all.push_back(std::move(*f));
    }
    if (auto st = faults::validate_faults(all); !st) {
        return fail(st.error());
    }
    return all;
}

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

int run_fault(Context& ctx, const FaultOptions& o) {
    if (o.cleanup) {
        auto removed = faults::cleanup_leftovers();
        for (const auto& p : removed) {
            std::printf("removed %s\n", p.c_str());
        }
        if (removed.empty() && !ctx.json) {
            std::fprintf(stderr, "shipshape fault: nothing left over from killed runs\n");
        }
        return to_int(ExitCode::done);
    }
    auto all = collect_faults(ctx, o);
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
    auto sandbox = faults::Sandbox::start(*all);
    if (!sandbox) {
        return report_error(ctx, sandbox.error());
    }
    int status = 0;
    if (!o.command.empty()) {
        auto outcome = (*sandbox)->run(o.command);
        if (!outcome) {
            (void)(*sandbox)->finish();
            return report_error(ctx, outcome.error());
        }
        status = outcome->shell_status();
    }
    auto report = (*sandbox)->finish();
    if (!report) {
        return report_error(ctx, report.error());
    }
    if (!o.report_file.empty()) {
        std::ofstream out(o.report_file);
        out << faults::report_to_json(*report) << "\n";
        if (!out) {
            std::fprintf(stderr, "shipshape fault: cannot write the report to %s\n",
                         o.report_file.c_str());
            return to_int(ExitCode::failed);
        }
    }
    if (ctx.json) {
        std::fflush(stdout);
        std::printf("%s\n", faults::report_to_json(*report).c_str());
    }
    if (!o.quiet) {
        print_summary(*report);
    }
    if (o.check && !ctx.json && !o.quiet) {
        std::fprintf(stderr, "shipshape fault: every asked fault can be set up here\n");
    }
    return status;
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
        "this machine cannot provide one (the message says what is missing).");
    sub->add_option("--profile,-p", opts->profiles,
                    "fault profile: a file, or NAME for faults/NAME.toml in the ops repo")
        ->option_text("FILE|NAME");
    struct FlagSpec {
        const char* name;
        faults::FaultKind kind;
        const char* help;
        const char* text;
    };
    static const FlagSpec k_flags[] = {
        {"--loss", faults::FaultKind::loss, "drop PCT% of incoming packets", "PCT[/tcp|udp]"},
        {"--block-port", faults::FaultKind::block_port,
         "refuse (ECONNREFUSED) or silently drop connections to PORT",
         "PORT[/tcp|udp][:reject|drop]"},
        {"--latency", faults::FaultKind::latency, "hold every packet MS (±JITTER) milliseconds",
         "MS[±JITTER]"},
        {"--bandwidth", faults::FaultKind::bandwidth, "limit the sandbox's network to RATE",
         "RATE"},
        {"--disk-full", faults::FaultKind::disk_full,
         "ENOSPC past SIZE under PATH (a sandbox tmpfs holding a copy of PATH)",
         "PATH:SIZE[@SECONDS]"},
        {"--io-error", faults::FaultKind::io_error, "EIO on PCT% of operations under PATH",
         "PATH:PCT[:read|write|fsync]"},
        {"--slow-io", faults::FaultKind::slow_io, "add MS to each operation under PATH", "PATH:MS"},
        {"--lose-unsynced", faults::FaultKind::lose_unsynced,
         "power loss at the end: data under PATH not fsynced is gone", "PATH"},
        {"--memory", faults::FaultKind::memory, "memory cgroup limit: OOM kill past SIZE", "SIZE"},
        {"--alloc-limit", faults::FaultKind::alloc_limit,
         "address-space limit: allocations fail past SIZE", "SIZE"},
        {"--clock-skew", faults::FaultKind::clock_skew, "shift the wall clock by SECONDS",
         "SECONDS"},
    };
    for (const auto& spec : k_flags) {
        faults::FaultKind kind = spec.kind;
        sub->add_option_function<std::vector<std::string>>(
               spec.name,
               [opts, kind](const std::vector<std::string>& values) {
                   for (const auto& v : values) {
                       opts->flags.emplace_back(kind, v);
                   }
               },
               spec.help)
            ->option_text(spec.text)
            ->allow_extra_args(false);
    }
    sub->add_flag_callback(
        "--dns-fail", [opts] { opts->flags.emplace_back(faults::FaultKind::dns_fail, ""); },
        "name resolution fails (DNS queries refused)");
    sub->add_option("--reset-after", opts->reset_after,
                    "reset connections on --port after BYTES (ECONNRESET mid-stream)")
        ->option_text("BYTES");
    sub->add_option("--port", opts->port, "the port --reset-after applies to")->option_text("PORT");
    sub->add_option("--report", opts->report_file,
                    "write the report (which faults fired, how often) as JSON to FILE")
        ->option_text("FILE");
    sub->add_flag("--check", opts->check,
                  "set every asked fault up and tear it down again, running nothing");
    sub->add_flag("--cleanup", opts->cleanup,
                  "remove what killed runs left behind (memory cgroups), then exit");
    sub->add_flag("--quiet,-q", opts->quiet, "no summary on stderr");
    sub->add_option("COMMAND", opts->command, "the command and its arguments, after --");
    out.push_back({sub, [opts](Context& ctx) { return run_fault(ctx, *opts); }});
}

}  // namespace shipshape::cli
