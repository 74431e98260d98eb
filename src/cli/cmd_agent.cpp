// `agent`, `agent pull` and `agent install-timer`, in both binaries (agent_cmds.hpp).
#include <poll.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <random>

#include "app/agent.hpp"
#include "app/pull.hpp"
#include "cli/agent_cmds.hpp"
#include "cli/exit_code.hpp"
#include "core/duration.hpp"
#include "core/text.hpp"
#include "fleet/agent_binary.hpp"
#include "os/file_system.hpp"
#include "os/self_exe.hpp"

#ifndef SHIPSHAPE_VERSION
#define SHIPSHAPE_VERSION "0.0.0"
#endif

namespace shipshape::cli {

namespace {

struct PullArgs {
    std::string repo;
    std::string branch = "main";
    std::string host;
    std::string every = "15m";
    std::string splay = "3m";
    std::string report;
    std::string token_file;
    std::string dir;
    std::string root;
    std::vector<std::string> sets;
    bool once = false;
    // install-timer
    std::string unit_dir = "/etc/systemd/system";
    std::string binary;
};

void add_pull_options(CLI::App* sub, PullArgs& a) {
    sub->add_option("--repo", a.repo, "the ops repo: a git URL or path")->required();
    sub->add_option("--branch", a.branch, "the branch to follow (default main)");
    sub->add_option("--host", a.host,
                    "this host's name in inventory.toml (default: the hostname, then the "
                    "machine's addresses)");
    sub->add_option("--every", a.every, "time between cycles (default 15m)");
    sub->add_option("--splay", a.splay, "up to this much random delay per cycle (default 3m)");
    sub->add_option("--report", a.report,
                    "where reports go: http://SERVER:PORT (the team server), or a store "
                    "(postgresql://... or a SQLite path; shipshape only)");
    sub->add_option("--token-file", a.token_file,
                    "the host's API token for --report http://... (default: $SHIPSHAPE_TOKEN)");
    sub->add_option("--dir", a.dir,
                    "work directory: the clone, checkouts, last good commit, report spool "
                    "(default /var/lib/shipshape/pull as root)");
    sub->add_option("--root", a.root, "converge under DIR instead of / (tests, images)");
    sub->add_option("--set,-s", a.sets, "template variable NAME=VALUE (repeatable)")
        ->allow_extra_args(false);
}

Result<app::PullOptions> pull_options(const Context& ctx, const PullArgs& a) {
    app::PullOptions o;
    o.repo = a.repo;
    // A local path is made absolute: the timer's working directory is not the caller's.
    if (a.repo.find("://") == std::string::npos && a.repo.find(':') == std::string::npos) {
        o.repo = os::path_absolute(a.repo, ctx.cwd);
    }
    o.branch = a.branch;
    o.host = a.host;
    o.work_dir = a.dir.empty() ? std::string() : os::path_absolute(a.dir, ctx.cwd);
    if (!a.root.empty()) {
        o.root = os::path_absolute(a.root, ctx.cwd);
    }
    for (const auto& kv : a.sets) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            return fail(Errc::invalid_argument, "--set '" + kv + "': expected NAME=VALUE");
        }
        o.params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return o;
}

Result<app::PullReporter> make_reporter(const Context& ctx, const PullArgs& a,
                                        const StoreReporterFactory& store_reporter) {
    if (a.report.empty()) {
        return app::PullReporter{};
    }
    if (a.report.rfind("http://", 0) == 0 || a.report.rfind("https://", 0) == 0) {
        std::string token;
        if (!a.token_file.empty()) {
            auto text = os::read_whole_file(os::path_absolute(a.token_file, ctx.cwd));
            if (!text) {
                return fail(text.error().context("--token-file"));
            }
            token = std::string(trim(*text));
        } else if (const char* t = std::getenv("SHIPSHAPE_TOKEN")) {
            token = t;
        }
        return app::http_pull_reporter(a.report, token);
    }
    if (!store_reporter) {
        return fail(Errc::unsupported,
                    "--report " + a.report +
                        ": shipshape-agent reports to a server (http://SERVER:PORT); writing "
                        "straight into a store needs the full shipshape binary (shipshape agent "
                        "pull)");
    }
    auto into_store = store_reporter(ctx, a.report);
    if (!into_store) {
        return fail(into_store.error());
    }
    auto write = std::move(*into_store);
    return app::PullReporter(
        [write](const std::string&, const std::string& doc) { return write(doc); });
}

void print_cycle(const Context& ctx, const app::PullCycle& c) {
    if (ctx.json) {
        std::printf("%s\n", pull_cycle_json(c).c_str());
        std::fflush(stdout);
        return;
    }
    const app::PullReport& r = c.report;
    std::string applied =
        r.applied_commit.empty() ? std::string("nothing") : r.applied_commit.substr(0, 12);
    std::printf("pull: %s %s at %s (%lld resources, %lld changed, %lld failed, %lld drifted)%s\n",
                r.host.c_str(), r.result.c_str(), applied.c_str(),
                static_cast<long long>(r.apply.resources), static_cast<long long>(r.apply.changed),
                static_cast<long long>(r.apply.failed), static_cast<long long>(r.drifted),
                c.reported ? "" : (", report not delivered: " + c.report_error).c_str());
    if (!r.error.empty()) {
        std::printf("  %s\n", r.error.c_str());
    }
    for (const auto& n : c.notes) {
        std::printf("  %s\n", n.c_str());
    }
    std::fflush(stdout);
}

// The cycle's exit code, and 1 for a converged host whose report was not delivered.
int cycle_exit(const app::PullCycle& c) {
    return c.report.exit_code == 0 && !c.reported ? to_int(ExitCode::failed) : c.report.exit_code;
}

// Sleeps `d`; false when cancelled meanwhile.
bool sleep_for(const Context& ctx, Millis d) {
    pollfd p{ctx.cancel ? ctx.cancel->fd() : -1, POLLIN, 0};
    int ms = static_cast<int>(std::min<long long>(d.count(), 1LL << 30));
    while (::poll(&p, 1, ms) < 0 && errno == EINTR) {
    }
    return !(ctx.cancel && ctx.cancel->cancelled());
}

struct Schedule {
    Millis every;
    Millis splay;
};

// --every and --splay, as pull and install-timer both take them.
Result<Schedule> parse_schedule(const PullArgs& a) {
    auto every = parse_duration(a.every);
    if (!every || every->count() <= 0) {
        return fail(Errc::invalid_argument,
                    "--every \"" + a.every + "\": expected a duration above 0 like 15m, 30s, 1h");
    }
    auto splay = parse_duration(a.splay);
    if (!splay) {
        return fail(Errc::invalid_argument,
                    "--splay \"" + a.splay + "\": expected a duration like 3m, 30s, 0s");
    }
    return Schedule{*every, *splay};
}

int run_pull(Context& ctx, const PullArgs& a, const StoreReporterFactory& store_reporter) {
    auto options = pull_options(ctx, a);
    if (!options) {
        return report_error(ctx, options.error());
    }
    auto schedule = parse_schedule(a);
    if (!schedule) {
        return report_error(ctx, schedule.error());
    }
    const auto [every, splay] = *schedule;
    auto reporter = make_reporter(ctx, a, store_reporter);
    if (!reporter) {
        return report_error(ctx, reporter.error());
    }
    auto runner = os::make_process_runner();
    app::PullService service(*options, *runner, ctx.cancel);
    std::mt19937_64 rng(std::random_device{}());
    for (bool first = true;; first = false) {
        if (!a.once) {
            long long max = splay.count();
            Millis delay(max > 0 ? static_cast<long long>(rng() % static_cast<uint64_t>(max)) : 0);
            if (!sleep_for(ctx, (first ? Millis(0) : every) + delay)) {
                return 0;  // stopped between cycles
            }
        }
        auto cycle = service.run_once(*reporter);
        if (!cycle) {
            if (a.once) {
                return report_error(ctx, cycle.error());
            }
            std::fprintf(stderr, "shipshape: pull: %s\n", cycle.error().message().c_str());
            continue;
        }
        print_cycle(ctx, *cycle);
        if (a.once) {
            return cycle_exit(*cycle);
        }
    }
}

std::string self_path() {
    std::string self = os::self_exe();
    return self.empty() ? std::string("shipshape") : self;
}

int run_install_timer(Context& ctx, const PullArgs& a) {
    auto schedule = parse_schedule(a);
    if (!schedule) {
        return report_error(ctx, schedule.error());
    }
    const auto [every, splay] = *schedule;
    auto options = pull_options(ctx, a);
    if (!options) {
        return report_error(ctx, options.error());
    }
    std::vector<std::string> args = {"--repo", options->repo, "--branch", a.branch};
    auto add = [&](const char* flag, const std::string& value, bool path) {
        if (!value.empty()) {
            args.insert(args.end(), {flag, path ? os::path_absolute(value, ctx.cwd) : value});
        }
    };
    add("--host", a.host, false);
    add("--report", a.report, false);
    add("--token-file", a.token_file, true);
    add("--dir", a.dir, true);
    add("--root", a.root, true);
    for (const auto& s : a.sets) {
        args.insert(args.end(), {"--set", s});
    }
    std::string binary = a.binary.empty() ? self_path() : os::path_absolute(a.binary, ctx.cwd);
    auto units = app::pull_timer_units(binary, args, every, splay);
    auto fs = os::make_local_file_system();
    std::string dir = os::path_absolute(a.unit_dir, ctx.cwd);
    if (auto st = fs->create_directories(dir); !st) {
        return report_error(ctx, st.error());
    }
    os::WriteOptions wo;
    wo.mode = 0644;
    for (const auto& [name, text] : {std::pair{"shipshape-pull.service", units.service},
                                     std::pair{"shipshape-pull.timer", units.timer}}) {
        if (auto st = fs->write_file_atomic(dir + "/" + name, text, wo); !st) {
            return report_error(ctx, st.error());
        }
    }
    if (ctx.json) {
        std::printf("%s\n",
                    timer_units_json(dir + "/shipshape-pull.service", dir + "/shipshape-pull.timer")
                        .c_str());
    } else {
        std::printf(
            "wrote %s/shipshape-pull.service and shipshape-pull.timer (every %s, splay "
            "%s)\nstart it: systemctl daemon-reload && systemctl enable --now "
            "shipshape-pull.timer\n",
            dir.c_str(), a.every.c_str(), a.splay.c_str());
    }
    return 0;
}

}  // namespace

int run_agent_serve(int protocol) {
    auto self = fleet::this_binary(SHIPSHAPE_VERSION);
    if (!self) {
        std::fprintf(stderr, "shipshape agent: %s\n", self.error().message().c_str());
        return to_int(ExitCode::internal);
    }
    return app::serve_agent(STDIN_FILENO, STDOUT_FILENO, *self, protocol);
}

void add_agent_command(CLI::App& app, std::vector<Command>& out,
                       const StoreReporterFactory& store_reporter) {
    auto* agent = app.add_subcommand(
        "agent",
        "The host's end of shipshape: without a subcommand, the fleet protocol on "
        "stdin/stdout (started over ssh by a controller); `agent pull` converges this host "
        "from the ops repo on a timer and reports");
    agent->require_subcommand(0, 1);
    auto pull = std::make_shared<PullArgs>();
    auto* pull_cmd = agent->add_subcommand(
        "pull",
        "Fetch the ops repo with git, converge this host to its roles' state, check drift, "
        "gather facts and report; every --every (with --splay) until stopped, or --once");
    add_pull_options(pull_cmd, *pull);
    pull_cmd->add_flag("--once", pull->once, "one cycle, then exit with its code");
    pull_cmd->footer(
        "\nExit (--once): 0 converged; 1 failed, drifted, unreachable repo or report not "
        "delivered; 2 invalid repo content (the host kept converging to the last good "
        "commit).\nExample:\n  shipshape-agent agent pull --once --repo "
        "https://git.example/ops.git --report http://ops.example:8080 --token-file "
        "/etc/shipshape/token");
    out.push_back({pull_cmd, [pull, store_reporter](Context& ctx) {
                       return run_pull(ctx, *pull, store_reporter);
                   }});

    auto timer = std::make_shared<PullArgs>();
    auto* timer_cmd = agent->add_subcommand(
        "install-timer",
        "Write a systemd service and timer (shipshape-pull.service/.timer) that run `agent pull "
        "--once` with these options every --every, up to --splay late");
    add_pull_options(timer_cmd, *timer);
    timer_cmd->add_option("--unit-dir", timer->unit_dir,
                          "where to write the units (default /etc/systemd/system)");
    timer_cmd->add_option("--binary", timer->binary,
                          "the agent binary the service runs (default: this one)");
    out.push_back({timer_cmd, [timer](Context& ctx) { return run_install_timer(ctx, *timer); }});

    auto protocol = std::make_shared<int>(0);
    agent->add_option("--protocol", *protocol, "the protocol version the controller speaks")
        ->group("");
    // Last: the first parsed command runs, and `agent` is parsed with its subcommands too.
    out.push_back({agent, [protocol](Context&) { return run_agent_serve(*protocol); }});
}

}  // namespace shipshape::cli
