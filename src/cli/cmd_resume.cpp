// shipshape resume RUN: continue an interrupted, failed or waiting run.
#include <CLI/CLI.hpp>

#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/run_view.hpp"

namespace shipshape::cli {

namespace {

struct ResumeOptions {
    std::string id;
    bool wait = false;
    std::string wait_timeout;
};

int run_resume(Context& ctx, const ResumeOptions& o) {
    auto wait = wait_options(ctx, o.wait, o.wait_timeout);
    if (!wait) {
        return report_error(ctx, wait.error());
    }
    return drive_stored_run(
        ctx, o.id, "resume",
        [&wait](app::RunService& service, const std::string& run_id, checklist::RunObserver& view) {
            service.wait_for_check_offs(std::move(*wait));
            return service.resume(run_id, view);
        });
}

}  // namespace

void add_resume_command(CLI::App& app, std::vector<Command>& out) {
    auto o = std::make_shared<ResumeOptions>();
    auto* sub = app.add_subcommand(
        "resume",
        "Continue a run: finished steps never rerun, interrupted ones rerun after their 'unless'");
    sub->add_option("RUN", o->id, "run id, or 'last'")->required();
    sub->add_flag("--wait", o->wait,
                  "when only check-offs are left, keep the lock and wait for them instead of "
                  "stopping with exit 4");
    sub->add_option("--wait-timeout", o->wait_timeout,
                    "with --wait: stop waiting (exit 4) after this long, e.g. 30m")
        ->option_text("DURATION");
    out.push_back({sub, [o](Context& ctx) { return run_resume(ctx, *o); }});
}

}  // namespace shipshape::cli
