// shipshape undo RUN: run the undo commands of a run's completed steps, newest first.
#include <CLI/CLI.hpp>

#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/run_view.hpp"

namespace shipshape::cli {

namespace {

int run_undo(Context& ctx, const std::string& id) {
    return drive_stored_run(
        ctx, id, "undo",
        [](app::RunService& service, const std::string& run_id, checklist::RunObserver& view) {
            return service.undo(run_id, view);
        });
}

}  // namespace

void add_undo_command(CLI::App& app, std::vector<Command>& out) {
    auto id = std::make_shared<std::string>();
    auto* sub = app.add_subcommand(
        "undo", "Undo a run: the 'undo' of each completed step, in reverse order of completion");
    sub->add_option("RUN", *id, "run id, or 'last'")->required();
    out.push_back({sub, [id](Context& ctx) { return run_undo(ctx, *id); }});
}

}  // namespace shipshape::cli
