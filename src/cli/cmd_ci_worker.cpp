// shipshape ci worker | ci hook install BARE-REPO | ci enqueue | ci sandbox | ci prune: the
// server side of CI (cmd_ci.cpp has run, status, log and cancel).
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "app/runs.hpp"
#include "cli/ci_cmds.hpp"
#include "cli/exit_code.hpp"
#include "core/duration.hpp"
#include "core/text.hpp"
#include "os/file_system.hpp"
#include "store/postgres/pg_store.hpp"

namespace shipshape::cli {

namespace {

struct WorkerOptions {
    app::CiWorkerOptions worker;
    std::string lease = "30s";
    std::string images;
    std::string work_dir;
    std::string labels;
};

struct HookOptions {
    std::string repo;
    bool force = false;
};

struct EnqueueOptions {
    std::string repo;
    std::string ref;
    std::string commit;
};

struct SandboxOptions {
    app::CiSandboxOptions sandbox;
    std::string network = "none";
};

struct PruneOptions {
    std::string older_than = "30d";
};

int run_ci_worker_cmd(Context& ctx, const CiStoreOption& so, WorkerOptions o) {
    auto runner = os::make_process_runner();
    auto location = ci_store_location(ctx, so, *runner);
    if (!location) {
        return report_error(ctx, location.error());
    }
    auto lease = parse_duration(o.lease);
    if (!lease || lease->count() < 300) {
        return report_error(ctx, Error(Errc::invalid_argument,
                                       "--lease: a duration of at least 300ms, such as 30s"));
    }
    o.worker.lease = *lease;
    o.worker.store_location = *location;
    for (size_t at = 0; at < o.labels.size();) {
        size_t comma = o.labels.find(',', at);
        std::string one(
            trim(o.labels.substr(at, comma == std::string::npos ? std::string::npos : comma - at)));
        if (!one.empty()) {
            o.worker.labels.push_back(one);
        }
        at = comma == std::string::npos ? o.labels.size() : comma + 1;
    }
    auto env = ci_environment(ctx, *location);
    if (!o.images.empty()) {
        env.images_dir = os::path_absolute(o.images, ctx.cwd);
    }
    if (!o.work_dir.empty()) {
        env.work_dir = os::path_absolute(o.work_dir, ctx.cwd);
    }
    if (!ctx.json) {
        std::printf("ci worker: store %s, %d at once%s; work in %s\n",
                    store::redact_postgres_uri(*location).c_str(), o.worker.concurrency,
                    o.worker.once ? ", until the queue is empty" : "", env.work_dir.c_str());
        std::fflush(stdout);
    }
    auto report = app::run_ci_worker(o.worker, env, *ctx.cancel, [&](const std::string& line) {
        if (!ctx.json) {
            std::printf("%s %s\n", format_local_time(app::now_ms()).c_str(), line.c_str());
            std::fflush(stdout);
        }
    });
    if (!report) {
        return report_error(ctx, report.error());
    }
    if (ctx.json) {
        std::printf("{\"passed\": %zu, \"failed\": %zu, \"cancelled\": %zu, \"lost\": %zu}\n",
                    report->passed, report->failed, report->cancelled, report->lost);
    } else {
        std::printf("ci worker: %zu passed, %zu failed, %zu cancelled, %zu lost\n", report->passed,
                    report->failed, report->cancelled, report->lost);
    }
    return ctx.cancel->cancelled() ? to_int(ExitCode::interrupted) : 0;
}

constexpr std::string_view k_hook_marker = "# shipshape-ci post-receive hook";

int run_ci_hook_install(Context& ctx, const CiStoreOption& so, const HookOptions& o) {
    auto runner = os::make_process_runner();
    const std::string repo = os::path_absolute(o.repo, ctx.cwd);
    if (!std::filesystem::is_directory(repo + "/hooks") ||
        !std::filesystem::exists(repo + "/HEAD")) {
        return report_error(ctx, Error(Errc::not_found, "'" + repo +
                                                            "' is not a bare git repository "
                                                            "(no HEAD and hooks/): make one with "
                                                            "`git init --bare`"));
    }
    auto location = ci_store_location(ctx, so, *runner);
    if (!location) {
        return report_error(ctx, location.error());
    }
    auto migrated = store::migrate_store(*location);
    if (!migrated) {
        return report_error(ctx, migrated.error());
    }
    const std::string hook = repo + "/hooks/post-receive";
    if (auto existing = os::read_whole_file(hook);
        existing && existing->find(k_hook_marker) == std::string::npos && !o.force) {
        return report_error(ctx, Error(Errc::already_exists,
                                       "'" + hook +
                                           "' exists and is not shipshape's: call `shipshape ci "
                                           "enqueue` from it, or replace it with --force"));
    }
    std::string script = "#!/bin/sh\n" + std::string(k_hook_marker) +
                         " (installed by `shipshape ci hook install`).\n"
                         "# Enqueues one pipeline per pushed ref and returns at once: workers "
                         "(`shipshape ci worker`) run the jobs.\n"
                         "exec " +
                         shell_quote(ci_environment(ctx, *location).shipshape_exe) +
                         " ci enqueue --store \"${SHIPSHAPE_STORE:-" + *location + "}\" --repo " +
                         shell_quote(repo) + "\n";
    if (location->find_first_of("\"$`\\") != std::string::npos) {
        return report_error(ctx, Error(Errc::invalid_argument,
                                       "the store location may not hold \", $, ` or \\ in a hook"));
    }
    if (auto st = os::write_whole_file_atomic(hook, script, {0755}); !st) {
        return report_error(ctx, st.error());
    }
    if (ctx.json) {
        std::printf("{\"hook\": \"%s\", \"schema\": %lld}\n", escape_control(hook).c_str(),
                    static_cast<long long>(migrated->to));
    } else {
        std::printf(
            "ci: installed %s (store %s, schema %lld)\n"
            "  a push now queues its jobs; run them with: shipshape ci worker --store %s\n",
            hook.c_str(), store::redact_postgres_uri(*location).c_str(),
            static_cast<long long>(migrated->to),
            shell_quote(store::redact_postgres_uri(*location)).c_str());
    }
    return 0;
}

int run_ci_enqueue(Context& ctx, const CiStoreOption& so, const EnqueueOptions& o) {
    auto runner = os::make_process_runner();
    auto location = ci_store_location(ctx, so, *runner);
    if (!location) {
        return report_error(ctx, location.error());
    }
    std::vector<app::PushedRef> pushes;
    if (!o.commit.empty()) {
        pushes.push_back({"", o.commit, o.ref.empty() ? "manual" : o.ref});
    } else {
        std::string text((std::istreambuf_iterator<char>(std::cin)),
                         std::istreambuf_iterator<char>());
        pushes = app::parse_post_receive(text);
    }
    auto store = store::open_store(*location);
    if (!store) {
        return report_error(ctx, store.error());
    }
    const std::string repo = os::path_absolute(o.repo.empty() ? "." : o.repo, ctx.cwd);
    auto outcomes = app::enqueue_pushes(**store, *runner, repo, pushes);
    if (!outcomes) {
        return report_error(ctx, outcomes.error());
    }
    for (const auto& e : *outcomes) {
        std::string what = e.push.ref + " " + e.push.new_id.substr(0, 12);
        if (e.pipeline_id == 0) {
            std::printf("shipshape-ci: %s: nothing queued (%s)\n", what.c_str(), e.skipped.c_str());
        } else if (!e.reason.empty()) {
            std::printf("shipshape-ci: %s: pipeline %lld failed: %s\n", what.c_str(),
                        static_cast<long long>(e.pipeline_id), e.reason.c_str());
        } else {
            std::printf("shipshape-ci: %s: pipeline %lld queued (%zu %s)\n", what.c_str(),
                        static_cast<long long>(e.pipeline_id), e.jobs,
                        e.jobs == 1 ? "job" : "jobs");
        }
    }
    return 0;
}

int run_ci_sandbox_cmd(Context& ctx, SandboxOptions o) {
    if (o.network != "none" && o.network != "host") {
        return report_error(ctx, Error(Errc::invalid_argument, "--network: none or host"));
    }
    o.sandbox.network =
        o.network == "host" ? os::ContainerNetwork::host : os::ContainerNetwork::none;
    o.sandbox.workspace = os::path_absolute(o.sandbox.workspace, ctx.cwd);
    if (!o.sandbox.tmp_dir.empty()) {
        o.sandbox.tmp_dir = os::path_absolute(o.sandbox.tmp_dir, ctx.cwd);
    }
    o.sandbox.cwd = ctx.cwd;
    for (char** e = environ; e && *e; ++e) {
        o.sandbox.env.emplace_back(*e);
    }
    auto status = app::run_ci_sandbox(o.sandbox);
    if (!status) {
        return report_error(ctx, status.error());
    }
    return *status;
}

int run_ci_prune(Context& ctx, const CiStoreOption& so, const PruneOptions& o) {
    auto runner = os::make_process_runner();
    auto location = ci_store_location(ctx, so, *runner);
    if (!location) {
        return report_error(ctx, location.error());
    }
    auto age = parse_duration(o.older_than);
    if (!age) {
        return report_error(ctx, age.error());
    }
    auto store = store::open_store(*location);
    if (!store) {
        return report_error(ctx, store.error());
    }
    auto removed = (*store)->prune_ci(app::now_ms() - age->count());
    if (!removed) {
        return report_error(ctx, removed.error());
    }
    auto env = ci_environment(ctx, *location);
    for (const auto& p : *removed) {
        std::error_code ec;
        std::filesystem::remove_all(env.artifacts_dir + "/" + std::to_string(p.id), ec);
    }
    std::printf("ci: removed %zu ended %s older than %s, with their artifacts\n", removed->size(),
                removed->size() == 1 ? "pipeline" : "pipelines", o.older_than.c_str());
    return 0;
}

}  // namespace

void add_ci_worker_commands(CLI::App& ci, const std::shared_ptr<CiStoreOption>& so,
                            const std::function<void(CLI::App*)>& store_flag,
                            std::vector<Command>& out) {
    auto wo = std::make_shared<WorkerOptions>();
    auto* worker = ci.add_subcommand("worker", "Run queued jobs (many workers may share a store)");
    worker->add_flag("--once", wo->worker.once, "drain the queue, then exit");
    worker->add_option("--concurrency,-j", wo->worker.concurrency, "jobs at once (default 1)")
        ->check(CLI::Range(1, 64));
    worker->add_option("--labels", wo->labels, "this worker's labels, comma-separated");
    worker->add_option("--name", wo->worker.name, "this worker's name (default HOST:PID)");
    worker->add_option("--lease", wo->lease,
                       "how long a job stays this worker's without a renewal (default 30s)");
    worker->add_option("--images", wo->images, "the images directory (image = \"NAME\" jobs)");
    worker->add_option("--work-dir", wo->work_dir, "where workspaces and run files go");
    worker->add_flag("!--no-notes", wo->worker.notes,
                     "do not write refs/notes/shipshape-ci in local repositories");
    store_flag(worker);
    out.push_back({worker, [so, wo](Context& ctx) { return run_ci_worker_cmd(ctx, *so, *wo); }});

    auto* hook = ci.add_subcommand("hook", "The git hook that queues a pipeline per push");
    hook->require_subcommand(1);
    auto ho = std::make_shared<HookOptions>();
    auto* install = hook->add_subcommand("install", "Install the post-receive hook in a bare repo");
    install->add_option("BARE-REPO", ho->repo, "the bare repository pushes go to")->required();
    install->add_flag("--force", ho->force, "replace a post-receive hook that is not shipshape's");
    store_flag(install);
    out.push_back({install, [so, ho](Context& ctx) { return run_ci_hook_install(ctx, *so, *ho); }});

    auto eo = std::make_shared<EnqueueOptions>();
    auto* enqueue = ci.add_subcommand(
        "enqueue", "Queue pipelines: post-receive lines on stdin, or one COMMIT (--ref)");
    enqueue->add_option("--repo", eo->repo, "the repository (default: the working directory)");
    enqueue->add_option("--ref", eo->ref, "with COMMIT: its ref");
    enqueue->add_option("COMMIT", eo->commit, "queue this commit instead of reading stdin");
    store_flag(enqueue);
    out.push_back({enqueue, [so, eo](Context& ctx) { return run_ci_enqueue(ctx, *so, *eo); }});

    auto sbo = std::make_shared<SandboxOptions>();
    auto* sandbox = ci.add_subcommand(
        "sandbox", "Run a command as a CI step runs: only the workspace and /tmp are writable");
    sandbox->add_option("--image", sbo->sandbox.image, "\"host\" (default) or an image");
    sandbox->add_option("--images", sbo->sandbox.images_dir, "the images directory");
    sandbox->add_option("--workspace", sbo->sandbox.workspace, "the writable tree")->required();
    sandbox->add_option("--network", sbo->network, "none (default: only lo) or host");
    sandbox->add_option("--tmp", sbo->sandbox.tmp_dir,
                        "a directory to use as /tmp (default: a private tmpfs)");
    sandbox->add_option("COMMAND", sbo->sandbox.argv, "the command, after --")->required();
    out.push_back({sandbox, [sbo](Context& ctx) { return run_ci_sandbox_cmd(ctx, *sbo); }});

    auto po = std::make_shared<PruneOptions>();
    auto* prune = ci.add_subcommand("prune", "Remove ended pipelines and their artifacts");
    prune->add_option("--older-than", po->older_than, "age (default 30d)");
    store_flag(prune);
    out.push_back({prune, [so, po](Context& ctx) { return run_ci_prune(ctx, *so, *po); }});
}

}  // namespace shipshape::cli
