// shipshape check-off RUN STEP --as ROLE: a person confirms a manual step.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/json.hpp"

namespace shipshape::cli {

namespace {

struct CheckOffOptions {
    std::string run;
    std::string step;
    std::string role;
    std::string by;
    std::string note;
};

int run_check_off(Context& ctx, const CheckOffOptions& o) {
    auto run = open_run(ctx, o.run);
    if (!run) {
        return report_error(ctx, run.error());
    }
    const std::string& run_id = run->run_id;
    app::RunService service(run->repo.project, *run->repo.store, *run->repo.runner, *ctx.cancel);
    auto c = service.check_off(run_id, o.step, o.role, o.by, o.note);
    if (!c) {
        Error e = c.error();
        // A wrong role is a refused request, not a missing privilege of this machine.
        if (e.code() == Errc::permission_denied) {
            e = Error(Errc::invalid_argument, e.message());
        }
        return report_error(ctx, e);
    }
    std::string next = "shipshape resume " + run_id;
    if (ctx.json) {
        std::printf("%s\n", json_check_off(*c, next).c_str());
    } else {
        std::printf("checked off %s of run %s as %s (by %s)%s\ncontinue with: %s\n",
                    c->step_id.c_str(), c->run_id.c_str(), c->role.c_str(), c->by.c_str(),
                    c->note.empty() ? "" : (": " + c->note).c_str(), next.c_str());
    }
    return 0;
}

}  // namespace

void add_check_off_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<CheckOffOptions>();
    auto* sub = app.add_subcommand("check-off", "Confirm a manual step of a run, as a named role");
    sub->add_option("RUN", opts->run, "run id, or 'last'")->required();
    sub->add_option("STEP", opts->step, "the manual step's id")->required();
    sub->add_option("--as", opts->role, "your role; must match the step's 'role'")->required();
    sub->add_option("--by", opts->by, "who you are (default: $USER)");
    sub->add_option("--note", opts->note, "a note recorded with the check-off");
    out.push_back({sub, [opts](Context& ctx) { return run_check_off(ctx, *opts); }});
}

}  // namespace shipshape::cli
