// Pipelines (ci_service.hpp): what a push enqueues, and `ci run` in a working tree.
#include <unistd.h>

#include <filesystem>

#include "app/ci_service.hpp"
#include "app/env_lock.hpp"
#include "app/runs.hpp"
#include "core/text.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

namespace {

bool is_zero_id(std::string_view id) {
    return !id.empty() && id.find_first_not_of('0') == std::string_view::npos;
}

}  // namespace

bool CiLocalReport::passed() const {
    for (const auto& j : jobs) {
        if (j.result.status != "passed") {
            return false;
        }
    }
    return true;
}

std::vector<PushedRef> parse_post_receive(std::string_view text) {
    std::vector<PushedRef> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        std::vector<std::string> fields;
        for (size_t at = 0; at < line.size();) {
            size_t start = line.find_first_not_of(" \t\r", at);
            if (start == std::string_view::npos) {
                break;
            }
            size_t end = line.find_first_of(" \t\r", start);
            end = end == std::string_view::npos ? line.size() : end;
            fields.emplace_back(line.substr(start, end - start));
            at = end;
        }
        if (fields.size() == 3) {
            out.push_back({fields[0], fields[1], fields[2]});
        }
    }
    return out;
}

std::optional<store::CiPipeline> make_ci_pipeline(const std::optional<std::string>& config_text,
                                                  const std::string& repo, const PushedRef& push,
                                                  int64_t now) {
    if (!config_text) {
        return std::nullopt;
    }
    store::CiPipeline p;
    p.repo = repo;
    p.ref = push.ref;
    p.commit = push.new_id;
    p.source = "hook";
    p.created_at = now;
    p.updated_at = now;
    auto config = ci::parse_ci_config(*config_text, ci::k_config_file);
    if (!config) {
        p.reason = config.error().message();
        p.status = "failed";
        return p;
    }
    auto jobs = ci::select_jobs(*config, {});
    if (!jobs) {
        p.reason = jobs.error().message();
        p.status = "failed";
        return p;
    }
    for (const auto& job : *jobs) {
        store::CiJob j;
        j.name = job.name;
        j.definition = ci_job_json(job);
        j.labels = job.labels;
        j.queued_at = now;
        p.jobs.push_back(std::move(j));
    }
    return p;
}

Result<std::vector<EnqueueOutcome>> enqueue_pushes(store::CiStore& store, os::ProcessRunner& runner,
                                                   const std::string& repo,
                                                   const std::vector<PushedRef>& pushes) {
    std::vector<EnqueueOutcome> out;
    out.reserve(pushes.size());
    for (const auto& push : pushes) {
        EnqueueOutcome o;
        o.push = push;
        if (is_zero_id(push.new_id)) {
            o.skipped = "deleted";
        } else if (push.ref.starts_with("refs/notes/")) {
            o.skipped = "a notes ref";
        }
        if (!o.skipped.empty()) {
            out.push_back(std::move(o));
            continue;
        }
        auto text = git_show_file(runner, repo, push.new_id, std::string(ci::k_config_file));
        if (!text) {
            o.skipped = text.error().message();
            out.push_back(std::move(o));
            continue;
        }
        auto pipeline = make_ci_pipeline(*text, repo, push, now_ms());
        if (!pipeline) {
            o.skipped = "no " + std::string(ci::k_config_file) + " in " + push.new_id.substr(0, 12);
            out.push_back(std::move(o));
            continue;
        }
        auto id = store.enqueue_ci_pipeline(*pipeline);
        if (!id) {
            return tl::unexpected(id.error());
        }
        o.pipeline_id = *id;
        o.jobs = pipeline->jobs.size();
        o.reason = pipeline->reason;
        out.push_back(std::move(o));
    }
    return out;
}

Result<CiLocalReport> run_ci_locally(
    store::Store& store, os::ProcessRunner& runner, const os::CancelSource& cancel,
    const CiEnvironment& env, const CiLocalRequest& request,
    const std::function<checklist::RunObserver&(const ci::Job&)>& observer_for) {
    CiLocalReport report;
    auto top = git_toplevel(runner, request.dir);
    if (!top) {
        return tl::unexpected(top.error());
    }
    report.top = *top;
    const std::string config_path = *top + "/" + std::string(ci::k_config_file);
    auto text = os::read_whole_file(config_path);
    if (!text) {
        return tl::unexpected(Error(Errc::not_found, "no " + std::string(ci::k_config_file) +
                                                         " in '" + *top +
                                                         "': it defines the jobs (see `shipshape "
                                                         "ci run --help`)"));
    }
    auto config = ci::parse_ci_config(*text, config_path);
    if (!config) {
        return tl::unexpected(config.error());
    }
    auto jobs = ci::select_jobs(*config, request.jobs);
    if (!jobs) {
        return tl::unexpected(jobs.error());
    }

    // --rerun-failed: the newest local pipeline of this tree says which jobs failed, and the
    // runs of those jobs which steps completed.
    std::map<std::string, std::string> previous_runs;
    if (request.rerun_failed) {
        store::CiFilter filter;
        filter.repo = *top;
        filter.ref = "working-tree";
        filter.limit = 1;
        auto last = store.find_ci_pipelines(filter);
        if (!last) {
            return tl::unexpected(last.error());
        }
        if (last->empty()) {
            return tl::unexpected(
                Error(Errc::not_found, "no earlier `ci run` of '" + *top +
                                           "' in this store: --rerun-failed has nothing to rerun"));
        }
        std::vector<ci::Job> failed;
        for (const auto& job : *jobs) {
            for (const auto& was : last->front().jobs) {
                if (was.name != job.name) {
                    continue;
                }
                if (was.status == "passed") {
                    report.notes.push_back(job.name + " passed in pipeline " +
                                           std::to_string(last->front().id) + ": not rerun");
                } else {
                    previous_runs[job.name] = was.run_id;
                    failed.push_back(job);
                }
            }
        }
        *jobs = std::move(failed);
    }

    const std::string worker = "local:" + this_process().host + ":" + std::to_string(::getpid());
    // A label of this run alone: no worker can have it (see k_local_label), and no other local
    // run claims these jobs.
    const std::string label =
        std::string(k_local_label) + ":" + worker + ":" + std::to_string(now_ms());
    store::CiPipeline pipeline;
    pipeline.repo = *top;
    pipeline.ref = "working-tree";
    pipeline.source = "local";
    pipeline.created_at = now_ms();
    pipeline.updated_at = pipeline.created_at;
    for (const auto& job : *jobs) {
        store::CiJob j;
        j.name = job.name;
        j.definition = ci_job_json(job);
        j.labels = {label};
        j.queued_at = pipeline.created_at;
        pipeline.jobs.push_back(std::move(j));
    }
    auto id = store.enqueue_ci_pipeline(pipeline);
    if (!id) {
        return tl::unexpected(id.error());
    }
    report.pipeline_id = *id;

    CiService service(store, runner, cancel, env);
    for (const auto& job : *jobs) {
        if (cancel.cancelled()) {
            break;
        }
        store::CiClaim claim;
        claim.worker = worker;
        claim.labels = {label};
        claim.now = now_ms();
        claim.lease_ms = 24LL * 3600 * 1000;  // the job is this process's until it ends
        auto claimed = store.claim_ci_job(claim);
        if (!claimed) {
            return tl::unexpected(claimed.error());
        }
        // The oldest job with this run's label is this job: they were enqueued in this order.
        CiJobRequest req;
        req.job = job;
        req.ref = "working-tree";
        req.pipeline_id = *id;
        if (auto prev = previous_runs.find(job.name); prev != previous_runs.end()) {
            req.previous_run = prev->second;
        }
        const std::string ws = env.work_dir + "/ws/local-" + std::to_string(*id) + "-" +
                               std::to_string(report.jobs.size() + 1);
        std::error_code ec;
        std::filesystem::remove_all(ws, ec);
        auto tree = git_copy_working_tree(runner, *top, ws);
        if (!tree) {
            return tl::unexpected(tree.error());
        }
        report.tree = *tree;
        req.workspace = ws;
        if (*claimed) {
            req.job_id = (*claimed)->id;
            req.on_run = [&store, job_id = (*claimed)->id, &worker](const std::string& run_id) {
                (void)store.set_ci_job_run(job_id, worker, run_id);
            };
        }
        auto result = service.run_job(req, observer_for(job), cancel);
        std::filesystem::remove_all(ws, ec);
        if (!result) {
            return tl::unexpected(result.error());
        }
        if (*claimed) {
            store::CiFinish fin;
            fin.job_id = (*claimed)->id;
            fin.worker = worker;
            fin.status = result->status;
            fin.failing = result->failing;
            fin.detail = result->detail;
            fin.results = ci_results_json(*result);
            fin.at = now_ms();
            if (auto done = store.finish_ci_job(fin); !done) {
                return tl::unexpected(done.error());
            }
        }
        report.jobs.push_back(CiLocalJob{job, std::move(*result)});
    }
    if (cancel.cancelled()) {
        (void)store.cancel_ci(*id, "", now_ms());  // the jobs not started stay out of the queue
    }
    return report;
}

}  // namespace shipshape::app
