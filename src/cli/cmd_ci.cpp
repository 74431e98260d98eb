// shipshape ci run [JOB...] | ci status [REF|COMMIT] | ci log JOB|RUN | ci cancel PIPELINE: CI on
// check-in, in an application's repository (not the ops repo). The worker, the hook and the
// sandbox are in cmd_ci_worker.cpp.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "app/runs.hpp"
#include "cli/ci_cmds.hpp"
#include "cli/ci_view.hpp"
#include "cli/exit_code.hpp"
#include "cli/run_view.hpp"

namespace shipshape::cli {

namespace {

struct RunOptions {
    std::vector<std::string> jobs;
    bool rerun_failed = false;
};

struct StatusOptions {
    std::string what;
    bool wait = false;
    int limit = 10;
};

struct LogOptions {
    std::string what;
    bool follow = false;
};

struct CancelOptions {
    int64_t pipeline = 0;
    std::string job;
};

int run_ci_run(Context& ctx, const CiStoreOption& so, const RunOptions& o) {
    auto opened = open_ci_store(ctx, so, store::Access::read_write);
    if (!opened) {
        return report_error(ctx, opened.error());
    }
    auto& store = opened->store;
    auto env = ci_environment(ctx, opened->location);
    auto runner = os::make_process_runner();
    // --json prints one document at the end; the live view is for people.
    std::unique_ptr<RunView> view = ctx.json ? std::make_unique<RunView>() : make_run_view(ctx);
    app::CiLocalRequest req{ctx.cwd, o.jobs, o.rerun_failed};
    auto report = app::run_ci_locally(
        *store, *runner, *ctx.cancel, env, req, [&](const ci::Job& job) -> checklist::RunObserver& {
            if (!ctx.json) {
                std::fprintf(stderr, "ci: job %s (image %s%s)\n", job.name.c_str(),
                             job.image.c_str(),
                             job.faults.empty() ? "" : (", faults " + job.faults).c_str());
            }
            return *view;
        });
    view->close();
    if (!report) {
        return report_error(ctx, report.error());
    }
    if (ctx.json) {
        std::printf("%s", json_ci_local(*report).c_str());
    } else {
        std::printf("%s", format_ci_local(*report, ctx.color).c_str());
    }
    if (ctx.cancel->cancelled()) {
        return to_int(ExitCode::interrupted);
    }
    return report->passed() ? 0 : to_int(ExitCode::failed);
}

// A commit prefix (4+ hex digits), else a ref ("main" is refs/heads/main).
store::CiFilter filter_for(const std::string& what) {
    store::CiFilter f;
    if (what.empty()) {
        return f;
    }
    bool hex = what.size() >= 4 && what.size() <= 64 &&
               what.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (hex) {
        f.commit = what;
    } else {
        f.ref = what.starts_with("refs/") || what == "working-tree" ? what : "refs/heads/" + what;
    }
    return f;
}

int run_ci_status(Context& ctx, const CiStoreOption& so, const StatusOptions& o) {
    auto opened = open_ci_store(ctx, so, store::Access::read_only);
    if (!opened) {
        return report_error(ctx, opened.error());
    }
    auto& store = opened->store;
    auto filter = filter_for(o.what);
    filter.limit = o.what.empty() ? o.limit : 1;
    for (;;) {
        auto found = store->find_ci_pipelines(filter);
        if (!found) {
            return report_error(ctx, found.error());
        }
        if (!o.what.empty() && found->empty()) {
            return report_error(ctx, Error(Errc::not_found,
                                           "no pipeline for '" + o.what +
                                               "' (a commit id or prefix, or a ref such as main)"));
        }
        bool ended = true;
        for (const auto& p : *found) {
            ended = ended && p.status != "queued" && p.status != "running";
        }
        if (o.wait && !ended && !ctx.cancel->cancelled()) {
            ::usleep(100 * 1000);
            continue;
        }
        if (ctx.json) {
            std::printf("%s", o.what.empty() ? json_ci_pipelines(*found).c_str()
                                             : json_ci_pipeline(found->front()).c_str());
        } else if (found->empty()) {
            std::printf("ci: no pipelines yet\n");
        } else {
            for (const auto& p : *found) {
                std::printf("%s", format_ci_pipeline(p, ctx.color).c_str());
            }
        }
        if (ctx.cancel->cancelled()) {
            return to_int(ExitCode::interrupted);
        }
        // --wait reports the outcome in its exit code, for scripts.
        return o.wait && !found->empty() && found->front().status != "passed"
                   ? to_int(ExitCode::failed)
                   : 0;
    }
}

int run_ci_log(Context& ctx, const CiStoreOption& so, const LogOptions& o) {
    auto opened = open_ci_store(ctx, so, store::Access::read_only);
    if (!opened) {
        return report_error(ctx, opened.error());
    }
    auto& store = opened->store;
    // A job id (digits), else a run id.
    bool job_id = !o.what.empty() && o.what.find_first_not_of("0123456789") == std::string::npos;
    int64_t after = 0;
    std::string last_step;
    for (;;) {
        std::string run_id = o.what;
        bool ended = true;
        if (job_id) {
            auto job = store->get_ci_job(std::stoll(o.what));
            if (!job) {
                return report_error(ctx, job.error());
            }
            run_id = job->run_id;
            ended = job->status != "queued" && job->status != "running";
        } else {
            auto run = store->get_run(run_id);
            if (!run) {
                return report_error(ctx, run.error());
            }
            ended = run->status != "running";
        }
        if (!run_id.empty()) {
            auto lines = store->log_lines_since(after, 1000, run_id);
            if (!lines) {
                return report_error(ctx, lines.error());
            }
            for (const auto& l : *lines) {
                if (l.step_id != last_step) {
                    std::printf("── %s\n", l.step_id.c_str());
                    last_step = l.step_id;
                }
                std::printf("%s\n", l.line.c_str());
                after = l.seq;
            }
            std::fflush(stdout);
            if (lines->size() == 1000) {
                continue;
            }
        }
        if (!o.follow || ended || ctx.cancel->cancelled()) {
            return ctx.cancel->cancelled() ? to_int(ExitCode::interrupted) : 0;
        }
        ::usleep(100 * 1000);
    }
}

int run_ci_cancel(Context& ctx, const CiStoreOption& so, const CancelOptions& o) {
    auto opened = open_ci_store(ctx, so, store::Access::read_write);
    if (!opened) {
        return report_error(ctx, opened.error());
    }
    auto& store = opened->store;
    auto n = store->cancel_ci(o.pipeline, o.job, app::now_ms());
    if (!n) {
        return report_error(ctx, n.error());
    }
    store::AuditEntry entry;  // who cancelled: the audit ledger keeps it
    entry.at = app::now_ms();
    entry.kind = "ci-cancelled";
    entry.actor = app::current_user();
    entry.subject =
        "ci-pipeline/" + std::to_string(o.pipeline) + (o.job.empty() ? "" : "/" + o.job);
    entry.detail = "{\"jobs\":" + std::to_string(*n) + "}";
    if (auto appended = store->append_audit(entry); !appended) {
        return report_error(ctx, appended.error());
    }
    if (ctx.json) {
        std::printf("{\"pipeline\": %lld, \"cancelled\": %lld}\n",
                    static_cast<long long>(o.pipeline), static_cast<long long>(*n));
    } else {
        std::printf(
            "ci: pipeline %lld: %lld %s cancelled (running ones stop at their worker's "
            "next lease renewal)\n",
            static_cast<long long>(o.pipeline), static_cast<long long>(*n),
            *n == 1 ? "job" : "jobs");
    }
    return 0;
}

}  // namespace

void add_ci_commands(CLI::App& app, std::vector<Command>& out) {
    auto* ci = app.add_subcommand(
        "ci", "CI on check-in: the jobs of .shipshape-ci.toml, locally or on every push");
    ci->require_subcommand(1);
    ci->footer(
        "\nThe store: --store, else SHIPSHAPE_STORE, else .shipshape/ci.db in the working tree.\n"
        "Exit status: 0 every job passed, 1 a job failed, 2 invalid definition or usage,\n"
        "3 this machine cannot make the sandbox, 130 interrupted.");
    auto so = std::make_shared<CiStoreOption>();
    auto store_flag = [so](CLI::App* sub) {
        sub->add_option("--store", so->store,
                        "the store: a path, sqlite:PATH or postgresql://... (else "
                        "SHIPSHAPE_STORE, else .shipshape/ci.db in the working tree)");
    };

    auto ro = std::make_shared<RunOptions>();
    auto* run = ci->add_subcommand(
        "run", "Run jobs on the working tree as it is (uncommitted changes too), as CI would");
    run->add_option("JOB", ro->jobs, "job names or matrix cells (default: every job)");
    run->add_flag("--rerun-failed", ro->rerun_failed,
                  "rerun only the jobs, and in them the steps, that failed last time");
    store_flag(run);
    out.push_back({run, [so, ro](Context& ctx) { return run_ci_run(ctx, *so, *ro); }});

    auto st = std::make_shared<StatusOptions>();
    auto* status =
        ci->add_subcommand("status", "Show the pipeline of a commit or ref, or the newest");
    status->add_option("WHAT", st->what, "a commit id (or prefix) or a ref (main, refs/tags/v1)");
    status->add_flag("--wait", st->wait,
                     "wait until the pipeline ends; exit 0 when it passed, 1 when not");
    status->add_option("--limit", st->limit, "without WHAT: how many pipelines (default 10)");
    store_flag(status);
    out.push_back({status, [so, st](Context& ctx) { return run_ci_status(ctx, *so, *st); }});

    auto lo = std::make_shared<LogOptions>();
    auto* log = ci->add_subcommand("log", "Print a job's step output (a job id, or a run id)");
    log->add_option("JOB", lo->what, "the job id `ci status` shows, or a run id")->required();
    log->add_flag("--follow,-f", lo->follow, "keep printing until the job ends");
    store_flag(log);
    out.push_back({log, [so, lo](Context& ctx) { return run_ci_log(ctx, *so, *lo); }});

    auto co = std::make_shared<CancelOptions>();
    auto* cancel = ci->add_subcommand("cancel", "Cancel a pipeline's jobs (or one of them)");
    cancel->add_option("PIPELINE", co->pipeline, "the pipeline id")->required();
    cancel->add_option("JOB", co->job, "one job's name (default: every job)");
    store_flag(cancel);
    out.push_back({cancel, [so, co](Context& ctx) { return run_ci_cancel(ctx, *so, *co); }});

    add_ci_worker_commands(*ci, so, store_flag, out);
}

}  // namespace shipshape::cli
