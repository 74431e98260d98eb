// shipshape resume RUN: continue an interrupted, failed or waiting run.
#include <CLI/CLI.hpp>

#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/run_view.hpp"

namespace shipshape::cli {

namespace {

int run_resume(Context& ctx, const std::string& id) {
    return drive_stored_run(
        ctx, id, "resume",
        [](app::RunService& service, const std::string& run_id, checklist::RunObserver& view) {
            return service.resume(run_id, view);
        });
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
