// shipshape runs: list runs, newest first, optionally only those of one environment, checklist
// or status (filtered by the store's database).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>

#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/json.hpp"
#include "cli/run_view.hpp"
#include "core/text.hpp"

namespace shipshape::cli {

namespace {

int run_runs(Context& ctx, const store::RunFilter& filter) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::RunService service(repo->project, *repo->store, *repo->runner, *ctx.cancel);
    auto runs = service.list(filter);
    if (!runs) {
        return report_error(ctx, runs.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_runs(*runs).c_str());
        return 0;
    }
    if (runs->empty() &&
        (!filter.env.empty() || !filter.checklist.empty() || !filter.status.empty())) {
        std::printf("no runs match\n");
        return 0;
    }
    if (runs->empty()) {
        std::printf("no runs yet: start one with 'shipshape run checklists/NAME.toml'\n");
        return 0;
    }
    std::printf("%-22s %-12s %-12s %-8s %-19s %s\n", "RUN", "STATUS", "CHECKLIST", "ENV", "STARTED",
                "PARAMS");
    // Journal text printed escaped (see show): one run, one row.
    for (const auto& r : *runs) {
        std::printf("%-22s %-12s %-12s %-8s %-19s %s\n", escape_control(r.id).c_str(),
                    escape_control(r.status).c_str(), escape_control(r.checklist_name).c_str(),
                    escape_control(r.env).c_str(), format_local_time(r.started_at).c_str(),
                    format_params(r.params).c_str());
    }
    return 0;
}

}  // namespace

void add_runs_command(CLI::App& app, std::vector<Command>& out) {
    auto filter = std::make_shared<store::RunFilter>();
    auto* sub = app.add_subcommand("runs", "List runs, newest first");
    sub->add_option("--limit,-n", filter->limit, "how many (default 50)")
        ->check(CLI::Range(1, 100000));
    sub->add_option("--env", filter->env, "only runs in this environment");
    sub->add_option("--checklist", filter->checklist, "only runs of the checklist with this name");
    sub->add_option("--status", filter->status,
                    "only runs with this status (interrupted: a running run whose process is "
                    "gone)")
        ->check(CLI::IsMember({"running", "waiting", "failed", "done", "interrupted", "undoing",
                               "undone", "undo-failed"}));
    out.push_back({sub, [filter](Context& ctx) { return run_runs(ctx, *filter); }});
}

}  // namespace shipshape::cli
