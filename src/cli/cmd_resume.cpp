// shipshape resume RUN: continue an interrupted, failed or waiting run.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/run_view.hpp"

namespace shipshape::cli {

namespace {

int run_resume(Context& ctx, const std::string& id) {
    auto repo = open_repo(ctx);
    if (!repo)
        return report_error(ctx, repo.error());
    auto run_id = resolve_run_id(*repo->store, id);
    if (!run_id)
        return report_error(ctx, run_id.error());
    app::RunService service(repo->project, *repo->store, *repo->runner, *ctx.cancel);
    auto view = make_run_view(ctx);
    auto report = service.resume(*run_id, *view);
    view->close();
    if (!report)
        return report_error(ctx, report.error());
    print_run_summary(ctx, *report, "resume");
    return exit_code_for(*report);
}

}  // namespace

void add_resume_command(CLI::App& app, std::vector<Command>& out) {
    auto id = std::make_shared<std::string>();
    auto* sub = app.add_subcommand(
        "resume",
        "Continue a run: finished steps never rerun, interrupted ones rerun after their 'unless'");
    sub->add_option("RUN", *id, "run id, or 'last'")->required();
    out.push_back({sub, [id](Context& ctx) { return run_resume(ctx, *id); }});
}

}  // namespace shipshape::cli
