#include "cli/state_args.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/json.hpp"
#include "cli/state_view.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

Result<app::StateRequest> make_state_request(const Context& ctx, const StateOptions& o,
                                             app::StateMode mode) {
    app::StateRequest req;
    req.patterns = o.hosts;
    req.state_files = o.states;
    req.diffs = !o.no_diff && mode != app::StateMode::apply;
    req.strict = o.strict;
    req.all = o.all;
    req.sync = o.sync;
    for (const auto& kv : o.sets) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            return fail(Errc::invalid_argument, "--set '" + kv + "': expected NAME=VALUE");
        }
        req.params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!o.as_host.empty()) {
        if (auto st = app::parse_as_host(o.as_host, req); !st) {
            return fail(st.error());
        }
    }
    if (!o.root.empty()) {
        req.root_given = o.root;
        req.root = os::path_absolute(o.root, ctx.cwd);
        while (req.root.size() > 1 && req.root.back() == '/') {
            req.root.pop_back();
        }
    }
    return req;
}

Result<state::SyncMode> parse_sync(const std::string& text) {
    if (text == "batch") {
        return state::SyncMode::batch;
    }
    if (text == "fsync") {
        return state::SyncMode::fsync;
    }
    if (text == "none") {
        return state::SyncMode::none;
    }
    return fail(Errc::invalid_argument, "--sync " + text + ": expected batch, fsync or none");
}

// drift --host-report: the agent describes its one host as a state report document.
int run_host_report(Context& ctx, app::StateService& service, const app::StateRequest& req) {
    auto targets = service.targets(req);
    if (!targets) {
        return report_error(ctx, targets.error());
    }
    if (targets->size() != 1) {
        return report_error(
            ctx, Error(Errc::invalid_argument, "--host-report describes one host (the agent's)"));
    }
    auto hp = service.plan(targets->front(), req);
    if (hp.error) {
        return report_error(ctx, *hp.error);
    }
    std::printf("%s\n", service.report_document(hp, req).c_str());
    return 0;
}

CLI::App* add_state_subcommand(CLI::App& app, const std::shared_ptr<StateOptions>& opts,
                               app::StateMode mode) {
    const char* help =
        mode == app::StateMode::plan
            ? "Show what apply would change on hosts, as a diff; changes nothing"
        : mode == app::StateMode::apply
            ? "Converge hosts to their declared state; exit 1 if anything failed"
            : "Exit 1 when hosts differ from their declared state; --env A --against B compares "
              "two environments";
    auto* sub = app.add_subcommand(app::mode_name(mode), help);
    sub->add_option("HOSTS", opts->hosts,
                    "host patterns: NAME, web*, group:NAME, env:NAME (default: this machine)");
    // One value per flag, so that HOSTS after them stay hosts.
    sub->add_option("--state", opts->states,
                    "use this state file (repo-relative, repeatable) instead of the hosts' roles")
        ->allow_extra_args(false);
    sub->add_option("--root", opts->root,
                    "treat DIR as the file system root (image builds, tests)");
    sub->add_option("--set,-s", opts->sets, "template variable NAME=VALUE (repeatable)")
        ->allow_extra_args(false);
    sub->add_flag("--all", opts->all, "list every entry of trees, not the first ten");
    sub->add_option("--forks", opts->forks, "remote hosts at once (default: all, up to 64)")
        ->check(CLI::Range(1, 1000));
    // The agent's side of a remote run: not for people.
    sub->add_option("--as-host", opts->as_host)->group("");
    if (mode == app::StateMode::apply) {
        sub->add_option("--sync", opts->sync,
                        "durability: batch (one syncfs, default), fsync (per file) or none");
        return sub;
    }
    sub->add_flag("--no-diff", opts->no_diff, "do not show file content diffs");
    if (mode == app::StateMode::drift) {
        sub->add_flag("--strict", opts->strict,
                      "also report unmanaged entries in managed directories and trees");
        sub->add_flag("--save", opts->save,
                      "save each host's state report in the store (for later comparisons)");
        sub->add_flag("--host-report", opts->host_report)->group("");
        sub->add_option("--env", opts->env, "compare this environment ...");
        sub->add_option("--against", opts->against, "... with this one");
    }
    return sub;
}

int run_and_print_state(Context& ctx, app::StateService& service, app::StateMode mode,
                        const app::StateRequest& req, const StateOptions& o) {
    auto sync = parse_sync(o.sync);
    if (!sync) {
        return report_error(ctx, sync.error());
    }
    app::StateRunOptions options;
    options.sync = *sync;
    options.save = o.save;
    options.json = ctx.json;
    options.progress = fanout_progress(ctx);
    if (mode == app::StateMode::apply && ctx.tty && !ctx.json) {
        options.on_apply_progress = [](const app::HostTarget&, size_t done, size_t total) {
            if (total >= 200 && (done % 100 == 0 || done == total)) {
                std::fprintf(stderr, "\r  applying %zu/%zu%s", done, total,
                             done == total ? "\n" : "");
            }
        };
    }
    auto outcome = service.run(mode, req, options);
    if (!outcome) {
        return report_error(ctx, outcome.error());
    }
    const int exit_code = state_exit_code(*outcome);
    if (ctx.json) {
        std::printf("%s\n", json_state(*outcome, exit_code).c_str());
    } else {
        print_state_outcome(ctx, *outcome, req.diffs, o.all);
    }
    return exit_code;
}

}  // namespace shipshape::cli
