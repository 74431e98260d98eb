// shipshape show RUN: each step's state, duration, exit code, log and check-offs.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/json.hpp"
#include "cli/run_view.hpp"
#include "core/text.hpp"

namespace shipshape::cli {

namespace {

int run_show(Context& ctx, const std::string& id, const std::string& log_step) {
    auto run = open_run(ctx, id);
    if (!run) {
        return report_error(ctx, run.error());
    }
    const std::string& run_id = run->run_id;
    app::RunService service(run->repo.project, *run->repo.store, *run->repo.runner, *ctx.cancel);
    if (!log_step.empty()) {
        // The step's output as the store holds it (redacted when written), as printed live.
        auto text = service.step_log(run_id, log_step);
        if (!text) {
            return report_error(ctx, text.error());
        }
        std::fwrite(text->data(), 1, text->size(), stdout);
        return 0;
    }
    auto d = service.show(run_id);
    if (!d) {
        return report_error(ctx, d.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_show(*d).c_str());
        return 0;
    }
    // Whatever the journal holds (older versions checked nothing) is printed escaped, so that
    // one record is always one row and nothing in it can drive the terminal.
    const auto& r = d->run;
    auto e = [](const std::string& text) { return escape_control(text); };
    std::printf("run %s: %s\n", e(r.id).c_str(), e(r.status).c_str());
    std::printf("  checklist %s (%s) on %s, started %s by %s@%s\n", e(r.checklist_name).c_str(),
                e(r.checklist_path).c_str(), e(r.env).c_str(),
                format_local_time(r.started_at).c_str(), e(r.user).c_str(), e(r.host).c_str());
    if (!r.params.empty()) {
        std::printf("  params: %s\n", format_params(r.params).c_str());
    }
    std::printf("\n  %-18s %-12s %-9s %-5s %s\n", "STEP", "STATE", "TIME", "EXIT", "DETAIL / LOG");
    for (const auto& v : d->steps) {
        const auto& s = v.record;
        std::string time = s.duration_ms > 0 ? format_duration(Millis(s.duration_ms)) : "-";
        std::string exit =
            s.exit_code >= 0 && s.state != "pending" ? std::to_string(s.exit_code) : "-";
        std::string state = s.state;
        if (!s.undo_state.empty()) {
            state += "/undo:" + s.undo_state;
        }
        std::printf("  %-18s %-12s %-9s %-5s %s\n", e(s.step_id).c_str(), e(state).c_str(),
                    time.c_str(), exit.c_str(), e(s.detail).c_str());
        if (!v.log_path.empty()) {
            std::printf("  %-18s log: %s\n", "", e(v.log_path).c_str());
        }
        for (const auto& c : v.check_offs) {
            std::printf("  %-18s checked off by %s as %s at %s%s\n", "", e(c.by).c_str(),
                        e(c.role).c_str(), format_local_time(c.at).c_str(),
                        c.note.empty() ? "" : (": " + e(c.note)).c_str());
        }
    }
    return 0;
}

}  // namespace

void add_show_command(CLI::App& app, std::vector<Command>& out) {
    auto id = std::make_shared<std::string>();
    auto log = std::make_shared<std::string>();
    auto* sub = app.add_subcommand(
        "show", "Show a run: each step's state, duration, exit code, log, check-offs");
    sub->add_option("RUN", *id, "run id, or 'last'")->required();
    sub->add_option("--log", *log,
                    "print this step's log instead, from the store (the team's, wherever the "
                    "run ran)")
        ->option_text("STEP");
    out.push_back({sub, [id, log](Context& ctx) { return run_show(ctx, *id, *log); }});
}

}  // namespace shipshape::cli
