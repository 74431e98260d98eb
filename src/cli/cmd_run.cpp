// shipshape run FILE: run a checklist (or --plan it).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "app/release_service.hpp"
#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"
#include "cli/release_view.hpp"
#include "cli/run_view.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

namespace {

struct RunOptions {
    std::string file;
    std::string env;
    std::vector<std::string> sets;
    bool plan = false;
    bool undo_on_failure = false;
    int parallel = 0;
    bool wait = false;
    std::string wait_timeout;
    std::string release;
};

void print_plan(const Context& ctx, const app::PlanReport& plan) {
    if (ctx.json) {
        std::printf("%s\n", json_plan(plan).c_str());
        return;
    }
    for (const auto& w : plan.warnings) {
        std::fprintf(stderr, "%s\n", format_diagnostic(w).c_str());
    }
    std::printf("plan for %s (%s) on %s, up to %d steps at once:\n", plan.checklist_name.c_str(),
                plan.checklist_path.c_str(), plan.env.c_str(), plan.parallel);
    int runs = 0, skips = 0, manual = 0;
    for (const auto& s : plan.steps) {
        std::string needs;
        for (const auto& n : s.needs) {
            needs += (needs.empty() ? "" : ", ") + n;
        }
        std::string verdict;
        if (s.verdict == "skip") {
            verdict = "skip";
            ++skips;
        } else if (s.verdict == "check-off") {
            verdict = "check-off by " + s.role;
            ++manual;
        } else {
            verdict = "run";
            ++runs;
        }
        std::printf("  %2d  %-18s %-20s %s\n", s.wave, s.id.c_str(), verdict.c_str(),
                    s.action.c_str());
        if (!needs.empty()) {
            std::printf("      %-18s needs %s\n", "", needs.c_str());
        }
        if (!s.reason.empty()) {
            std::printf("      %-18s %s\n", "", s.reason.c_str());
        }
    }
    std::printf(
        "%d to run, %d to skip, %d check-offs; nothing was run (the first column is the "
        "wave: steps of one wave may run together)\n",
        runs, skips, manual);
}

// run --release: the checklist must be the release's, the params its (taken from it when none
// are given), and every gate of the environment's stage must hold. Returns -1 to go on, else
// the exit code of the refusal (printed here); nothing was run or recorded then.
int bind_release(const Context& ctx, OpenRepo& repo, const RunOptions& o,
                 app::StartRequest& request) {
    app::ReleaseService releases(repo.project, repo.store.get(), *repo.runner);
    auto record = releases.resolve(o.release);
    if (!record) {
        return report_error(ctx, record.error());
    }
    const auto& doc = record->document;
    std::string path = os::path_absolute(o.file, ctx.cwd);
    if (path.rfind(repo.project.root + "/", 0) == 0) {
        path = path.substr(repo.project.root.size() + 1);
    }
    if (path != doc.checklist.path) {
        return report_error(
            ctx, Error(Errc::invalid_argument,
                       "--release " + doc.name + " runs " + doc.checklist.path + ", not " + path));
    }
    if (request.params.empty()) {
        request.params = doc.params;
    } else {
        auto given = request.params;
        std::sort(given.begin(), given.end());
        if (given != doc.params) {
            std::string want;
            for (const auto& [k, v] : doc.params) {
                want += (want.empty() ? "" : " ") + k + "=" + v;
            }
            return report_error(ctx, Error(Errc::invalid_argument,
                                           "--release " + doc.name + " was made with --set " +
                                               want + ": leave --set out to use them"));
        }
    }
    const std::string env = request.env.empty() ? repo.project.config.default_env : request.env;
    auto gate = releases.gate_for_env(*record, env);
    if (!gate) {
        return report_error(ctx, gate.error());
    }
    if (!gate->gate.ok) {
        const int code = to_int(ExitCode::gated);
        if (ctx.json) {
            std::printf("%s\n", json_gate_refused(doc.name, record->id, *gate, code).c_str());
        } else {
            std::fprintf(stderr,
                         "shipshape: release %s (%s) may not run on %s (stage %s), nothing was "
                         "run: %s\n",
                         doc.name.c_str(), release::short_hash(record->id).c_str(), env.c_str(),
                         gate->stage->name.c_str(), missing_text(gate->gate).c_str());
            for (const auto& r : gate->gate.rejected) {
                std::fprintf(stderr, "  not counted: %s: %s\n", r.source.c_str(), r.reason.c_str());
            }
            std::fprintf(stderr, "  see 'shipshape release show %s'\n", doc.name.c_str());
        }
        return code;
    }
    request.release_id = record->id;
    return -1;
}

int run_run(Context& ctx, const RunOptions& o) {
    app::StartRequest request;
    request.checklist_file = o.file;
    request.cwd = ctx.cwd;
    request.env = o.env;
    request.undo_on_failure = o.undo_on_failure;
    request.parallel = o.parallel;
    for (const auto& kv : o.sets) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            return report_error(
                ctx, Error(Errc::invalid_argument, "--set '" + kv + "': expected NAME=VALUE"));
        }
        request.params.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    auto wait = wait_options(ctx, o.wait, o.wait_timeout);
    if (!wait) {
        return report_error(ctx, wait.error());
    }
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    // With SHIPSHAPE_TOKEN the run records the token's user rather than $USER (a run needs no
    // role, so a shared store without a token still records $USER).
    if (std::getenv("SHIPSHAPE_TOKEN") != nullptr) {
        auto who = authenticated_user(ctx, *repo);
        if (!who) {
            return report_error(ctx, who.error());
        }
        request.user = (*who)->user;
    }
    if (!o.release.empty()) {
        if (int refused = bind_release(ctx, *repo, o, request); refused >= 0) {
            return refused;
        }
    }
    app::RunService service(repo->project, *repo->store, *repo->runner, *ctx.cancel);
    service.wait_for_check_offs(std::move(*wait));
    auto fleet = open_fleet(ctx, repo->project, 0);
    if (!fleet) {
        return report_error(ctx, fleet.error());
    }
    service.use_fleet(fleet->get());
    for (const auto& w : repo->project.inventory.warnings) {
        std::fprintf(stderr, "%s\n", w.c_str());
    }
    if (o.plan) {
        auto plan = service.plan(request);
        if (!plan) {
            return report_error(ctx, plan.error());
        }
        print_plan(ctx, *plan);
        return 0;
    }
    auto view = make_run_view(ctx);
    auto report = service.start(request, *view);
    view->close();
    if (!report) {
        return report_error(ctx, report.error());
    }
    print_run_summary(ctx, *report, "run");
    return exit_code_for(*report);
}

}  // namespace

void add_run_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<RunOptions>();
    auto* sub = app.add_subcommand("run", "Run a checklist (a DAG of steps), or show its plan");
    sub->add_option("FILE", opts->file, "checklist file, e.g. checklists/deploy.toml")->required();
    sub->add_option("--env,-e", opts->env,
                    "environment to run against (default: default_env, 'local')");
    sub->add_option("--set,-s", opts->sets, "set a param: NAME=VALUE (repeatable)");
    sub->add_flag("--plan", opts->plan,
                  "print the ordered steps and what would be skipped; run nothing");
    sub->add_flag("--undo-on-failure", opts->undo_on_failure,
                  "after a failure, undo completed steps in reverse order of completion");
    sub->add_option("--parallel,-j", opts->parallel,
                    "steps at once (default: the checklist's 'parallel')")
        ->check(CLI::Range(1, 1024));
    sub->add_flag("--wait", opts->wait,
                  "when only check-offs are left, keep the lock and wait for them (from "
                  "'check-off' or the server) instead of stopping with exit 4");
    sub->add_option("--wait-timeout", opts->wait_timeout,
                    "with --wait: stop waiting (exit 4) after this long, e.g. 30m")
        ->option_text("DURATION");
    sub->add_option("--release", opts->release,
                    "run this release (NAME or ID): refused (exit 5) unless every gate of the "
                    "environment's stage holds; the checklist and params must be the release's")
        ->option_text("RELEASE");
    out.push_back({sub, [opts](Context& ctx) { return run_run(ctx, *opts); }});
}

}  // namespace shipshape::cli
