// shipshape runs: list runs, newest first.
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

int run_runs(Context& ctx, int limit) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::RunService service(repo->project, *repo->store, *repo->runner, *ctx.cancel);
    auto runs = service.list(limit);
    if (!runs) {
        return report_error(ctx, runs.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_runs(*runs).c_str());
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
    auto limit = std::make_shared<int>(50);
    auto* sub = app.add_subcommand("runs", "List runs, newest first");
    sub->add_option("--limit,-n", *limit, "how many (default 50)")->check(CLI::Range(1, 100000));
    out.push_back({sub, [limit](Context& ctx) { return run_runs(ctx, *limit); }});
}

}  // namespace shipshape::cli
