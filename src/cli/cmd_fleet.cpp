// shipshape agent (the remote end of the fleet transport), shipshape exec (an ad-hoc command
// on hosts, like `ansible -m command`) and shipshape fleet disconnect (closing the ssh master
// connections).
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <optional>

#include "app/agent.hpp"
#include "app/fleet_service.hpp"
#include "app/hosts.hpp"
#include "app/secrets.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "core/redact.hpp"
#include "os/fan_out.hpp"

#ifndef SHIPSHAPE_VERSION
#define SHIPSHAPE_VERSION "0.0.0"
#endif

namespace shipshape::cli {

// shipshape fleet reports (cmd_fleet_reports.cpp).
void add_fleet_reports_command(CLI::App& fleet_cmd, std::vector<Command>& out);

namespace {

using json = nlohmann::json;

std::vector<std::string> split_patterns(const std::string& text) {
    std::vector<std::string> patterns;
    for (size_t pos = 0; pos <= text.size();) {
        size_t comma = text.find(',', pos);
        std::string p = text.substr(pos, comma == std::string::npos ? comma : comma - pos);
        if (!p.empty()) {
            patterns.push_back(p);
        }
        pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    }
    return patterns;
}

struct ExecOptions {
    std::string hosts;
    std::vector<std::string> command;
    std::string sh;
    std::string timeout;
    int forks = 0;
};

struct HostRun {
    const app::SelectedHost* host = nullptr;
    std::string status;  // ok, failed, unreachable
    std::string output;
    std::optional<os::ProcessOutcome> outcome;
    std::optional<Error> error;
    bool agent_installed = false;
};

// Runs the command here, for hosts that are this machine.
Result<os::ProcessOutcome> run_local(const app::RemoteExec& req, const os::CancelSource* cancel,
                                     std::string& output) {
    struct Sink final : os::OutputSink {
        std::string& out;
        explicit Sink(std::string& o) : out(o) {}
        void on_output(std::string_view chunk) override { out.append(chunk); }
    } sink(output);
    os::ProcessSpec spec;
    spec.argv = req.argv;
    spec.timeout = req.timeout;
    return os::make_process_runner()->run(spec, sink, cancel);
}

int run_exec(Context& ctx, ExecOptions o) {
    if (!o.command.empty() && o.command.front() == "--") {
        o.command.erase(o.command.begin());
    }
    if (o.command.empty() == o.sh.empty()) {
        return report_error(ctx, Error(Errc::invalid_argument,
                                       "give the command after --, or one shell line with --sh "
                                       "(exec web* -- uptime; exec web* --sh 'df -h | tail -1')"));
    }
    Millis timeout{0};
    if (!o.timeout.empty()) {
        auto t = parse_duration(o.timeout);
        if (!t) {
            return report_error(ctx, Error(Errc::invalid_argument,
                                           "--timeout " + o.timeout + ": " + t.error().message()));
        }
        timeout = *t;
    }
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto hosts = app::select_hosts(repo->project.inventory, split_patterns(o.hosts));
    if (!hosts) {
        return report_error(ctx, hosts.error());
    }
    auto fleet = open_fleet(ctx, repo->project, o.forks);
    if (!fleet) {
        return report_error(ctx, fleet.error());
    }
    app::RemoteExec req;
    req.argv = o.sh.empty() ? o.command : std::vector<std::string>{"/bin/sh", "-c", o.sh};
    req.timeout = timeout;
    std::vector<HostRun> runs(hosts->size());
    app::Tally tally("exec", hosts->size(), fanout_progress(ctx));
    os::fan_out(hosts->size(), (*fleet)->forks(hosts->size()), [&](size_t i) {
        HostRun& r = runs[i];
        r.host = &(*hosts)[i];
        tally.started();
        // A plain command needs no agent: one multiplexed ssh, like the user would type. With
        // --timeout the agent runs it, so that the command is stopped on the host in time.
        auto collect = [&](std::string_view chunk) { r.output.append(chunk); };
        auto outcome = r.host->local         ? run_local(req, ctx.cancel, r.output)
                       : timeout.count() > 0 ? (*fleet)->exec(*r.host, req, collect)
                                             : (*fleet)->run_direct(*r.host, req.argv, collect);
        if (!outcome) {
            r.error = outcome.error();
            r.status = outcome.error().code() == Errc::unreachable ? "unreachable" : "failed";
        } else {
            r.outcome = *outcome;
            r.status = outcome->success() ? "ok" : "failed";
        }
        r.agent_installed = (*fleet)->fleet().stats(r.host->name).agent_installed;
        tally.finished(r.status == "ok");
    });
    // The commands' output and errors are printed whole: redacted whole (core/redact.hpp).
    if (const Redactor redactor(app::secret_values(repo->project)); !redactor.empty()) {
        for (auto& r : runs) {
            redactor.apply_in_place(r.output);
            if (r.error) {
                r.error = Error(r.error->code(), redactor.apply(r.error->message()));
            }
        }
    }
    size_t ok = 0;
    size_t failed = 0;
    size_t unreachable = 0;
    for (const auto& r : runs) {
        (r.status == "ok" ? ok : r.status == "unreachable" ? unreachable : failed)++;
    }
    int code = ok == runs.size() ? 0 : to_int(ExitCode::failed);
    if (ctx.cancel->cancelled()) {
        code = to_int(ExitCode::interrupted);
    }
    if (ctx.json) {
        json list = json::array();
        for (const auto& r : runs) {
            json j = {{"host", r.host->name},
                      {"status", r.status},
                      {"output", r.output},
                      {"agent_installed", r.agent_installed}};
            if (r.outcome) {
                j["exit"] = os::exit_kind_name(r.outcome->kind);
                j["code"] = r.outcome->code;
                j["elapsed_ms"] = r.outcome->elapsed.count();
            }
            if (r.error) {
                j["error"] = {{"code", errc_name(r.error->code())},
                              {"message", r.error->message()}};
            }
            list.push_back(std::move(j));
        }
        json doc = {{"kind", "exec"},
                    {"hosts", list},
                    {"summary", {{"ok", ok}, {"failed", failed}, {"unreachable", unreachable}}},
                    {"exit_code", code}};
        std::printf("%s\n", doc.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
        return code;
    }
    for (const auto& r : runs) {
        std::string head = r.host->name + " | " + r.status;
        if (r.outcome) {
            head += " | " + os::describe(*r.outcome, timeout) + " | " +
                    format_duration(r.outcome->elapsed);
        }
        std::printf("%s\n", head.c_str());
        if (r.error) {
            std::printf("  %s\n", r.error->message().c_str());
        }
        size_t pos = 0;
        while (pos < r.output.size()) {
            size_t nl = r.output.find('\n', pos);
            std::string line =
                r.output.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            pos = nl == std::string::npos ? r.output.size() : nl + 1;
            std::printf("  %s\n", line.c_str());
        }
    }
    std::fprintf(stderr, "%zu ok, %zu failed, %zu unreachable\n", ok, failed, unreachable);
    return code;
}

int run_disconnect(Context& ctx, const std::string& host_patterns) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto patterns = split_patterns(host_patterns);
    auto hosts = app::select_hosts_or_all(repo->project.inventory, patterns);
    if (!hosts) {
        return report_error(ctx, hosts.error());
    }
    auto fleet = open_fleet(ctx, repo->project, 0);
    if (!fleet) {
        return report_error(ctx, fleet.error());
    }
    struct Closed {
        const app::SelectedHost* host = nullptr;
        Result<bool> result = false;
    };
    std::vector<Closed> closed;
    for (const auto& h : *hosts) {
        if (!h.local) {
            closed.push_back({&h, false});
        }
    }
    os::fan_out(closed.size(), (*fleet)->forks(closed.size()),
                [&](size_t i) { closed[i].result = (*fleet)->disconnect(*closed[i].host); });
    size_t failed = 0;
    json list = json::array();
    for (const auto& c : closed) {
        std::string status = !c.result ? "failed" : *c.result ? "closed" : "not connected";
        failed += c.result ? 0 : 1;
        if (ctx.json) {
            json j = {{"host", c.host->name}, {"status", status}};
            if (!c.result) {
                j["error"] = {{"code", errc_name(c.result.error().code())},
                              {"message", c.result.error().message()}};
            }
            list.push_back(std::move(j));
        } else {
            std::printf("%s | %s\n", c.host->name.c_str(), status.c_str());
            if (!c.result) {
                std::printf("  %s\n", c.result.error().message().c_str());
            }
        }
    }
    int code = failed == 0 ? 0 : to_int(ExitCode::failed);
    if (ctx.json) {
        json doc = {{"kind", "fleet-disconnect"}, {"hosts", list}, {"exit_code", code}};
        std::printf("%s\n", doc.dump().c_str());
    }
    return code;
}

}  // namespace

void add_fleet_commands(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<ExecOptions>();
    auto* exec = app.add_subcommand(
        "exec", "Run a command on hosts over ssh (in parallel) and show each host's result");
    exec->add_option("HOSTS", opts->hosts,
                     "host patterns, comma-separated: NAME, web*, group:NAME, env:NAME")
        ->required();
    exec->add_option("COMMAND", opts->command, "the command and its arguments, after --");
    exec->add_option("--sh", opts->sh, "run this shell line instead (with /bin/sh -c)");
    exec->add_option("--forks,-f", opts->forks, "hosts at once (default: all, up to 64)")
        ->check(CLI::Range(1, 1000));
    exec->add_option("--timeout", opts->timeout,
                     "stop the command after this long (e.g. 30s); the agent then runs it, so "
                     "that it is stopped on the host too");
    exec->footer(
        "\nExamples:\n  shipshape exec env:prod -- uptime\n  shipshape exec 'web*' --sh 'df -h / "
        "| tail -1'\n\nExit 0 when the command succeeded on every host; 1 when it failed or a "
        "host was unreachable.");
    out.push_back({exec, [opts](Context& ctx) { return run_exec(ctx, *opts); }});

    auto* fleet_cmd = app.add_subcommand(
        "fleet", "The fleet transport's connections, and what pulling hosts reported");
    fleet_cmd->require_subcommand(1);
    auto disconnect_hosts = std::make_shared<std::string>();
    auto* disconnect = fleet_cmd->add_subcommand(
        "disconnect", "Close the ssh master connections to hosts (all remote hosts by default)");
    disconnect->add_option("HOSTS", *disconnect_hosts,
                           "host patterns, comma-separated: NAME, web*, group:NAME, env:NAME");
    out.push_back({disconnect, [disconnect_hosts](Context& ctx) {
                       return run_disconnect(ctx, *disconnect_hosts);
                   }});
    add_fleet_reports_command(*fleet_cmd, out);  // cmd_fleet_reports.cpp
}

}  // namespace shipshape::cli
