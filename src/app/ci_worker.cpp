// `ci worker` (ci_service.hpp): slots that claim jobs, hold them under a lease and run them.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "app/ci_service.hpp"
#include "app/env_lock.hpp"
#include "app/runs.hpp"

namespace shipshape::app {

namespace {

// Renews the lease of one job on a connection of its own until stopped; fires `job_cancel`
// when the lease is lost, a cancel is asked, or the worker itself is asked to stop. `stop`
// (fired by the destructor) ends it at once, so a finished job does not wait for a renewal.
class LeaseKeeper {
  public:
    LeaseKeeper(store::Store& store, int64_t job_id, std::string worker, Millis lease,
                const os::CancelSource& outer, const os::CancelSource& job_cancel,
                const os::CancelSource& stop)
        : m_store(store),
          m_stop(stop),
          m_thread([this, job_id, worker = std::move(worker), lease, &outer, &job_cancel, &stop] {
              const int every = static_cast<int>(std::max<int64_t>(lease.count() / 3, 50));
              for (;;) {
                  pollfd fds[2] = {{outer.fd(), POLLIN, 0}, {stop.fd(), POLLIN, 0}};
                  ::poll(fds, 2, every);
                  if (stop.cancelled()) {
                      return;
                  }
                  if (outer.cancelled()) {
                      job_cancel.cancel();
                      return;
                  }
                  auto r = m_store.renew_ci_lease(job_id, worker, now_ms() + lease.count());
                  if (r && (!r->held || r->cancel_requested)) {
                      m_lost = !r->held;
                      m_cancel_requested = r->cancel_requested;
                      job_cancel.cancel();
                      return;
                  }
              }
          }) {}
    ~LeaseKeeper() {
        m_stop.cancel();
        m_thread.join();
    }
    LeaseKeeper(const LeaseKeeper&) = delete;
    LeaseKeeper& operator=(const LeaseKeeper&) = delete;
    bool lost() const { return m_lost; }
    bool cancel_requested() const { return m_cancel_requested; }

  private:
    store::Store& m_store;  // the slot's lease connection, used by this thread alone
    const os::CancelSource& m_stop;
    std::atomic<bool> m_lost{false};
    std::atomic<bool> m_cancel_requested{false};
    std::thread m_thread;
};

// Swallows the live output of a worker's jobs: their logs are in the store.
struct QuietObserver final : checklist::RunObserver {};

struct Slot {
    const CiWorkerOptions& options;
    const CiEnvironment& env;
    const os::CancelSource& cancel;
    const CiWorkerSay& say;
    std::string worker;
    CiWorkerReport report;
};

// Runs one claimed job to its end and finishes it. Errors are the store's.
// `lease_store`: a second connection of the slot's, kept across jobs, for the lease keeper's
// thread (a connection per job cost a PostgreSQL connect each).
Status run_claimed(Slot& slot, store::Store& store, store::Store& lease_store,
                   os::ProcessRunner& runner, const store::CiJob& job) {
    auto pipeline = store.get_ci_pipeline(job.pipeline_id);
    if (!pipeline) {
        return tl::unexpected(pipeline.error());
    }
    const std::string short_commit = pipeline->commit.substr(0, 12);
    slot.say("job " + std::to_string(job.id) + " " + job.name + " (pipeline " +
             std::to_string(pipeline->id) + ", " + pipeline->ref + " " + short_commit +
             "): started" + (job.attempts > 1 ? ", attempt " + std::to_string(job.attempts) : ""));
    auto job_cancel = os::CancelSource::create();
    auto keeper_stop = os::CancelSource::create();
    if (!job_cancel || !keeper_stop) {
        return tl::unexpected(job_cancel ? keeper_stop.error() : job_cancel.error());
    }
    CiJobResult result;
    bool lost = false;
    bool cancel_requested = false;
    {
        LeaseKeeper keeper(lease_store, job.id, slot.worker, slot.options.lease, slot.cancel,
                           *job_cancel, *keeper_stop);
        const std::string ws = slot.env.work_dir + "/ws/" + std::to_string(job.id) + "-" +
                               std::to_string(job.attempts);
        std::error_code ec;
        std::filesystem::remove_all(ws, ec);
        auto def = parse_ci_job(job.definition);
        if (!def) {
            result.status = "failed";
            result.failing = "definition";
            result.detail = def.error().message();
        } else if (auto co = git_checkout(runner, pipeline->repo, pipeline->commit, ws); !co) {
            result.status = "failed";
            result.failing = "checkout";
            result.detail = co.error().message();
        } else {
            CiService service(store, runner, *job_cancel, slot.env);
            CiJobRequest req;
            req.job = *def;
            req.workspace = ws;
            req.commit = pipeline->commit;
            req.ref = pipeline->ref;
            req.pipeline_id = pipeline->id;
            req.job_id = job.id;
            req.on_run = [&store, &slot, &job](const std::string& run_id) {
                (void)store.set_ci_job_run(job.id, slot.worker, run_id);
            };
            QuietObserver quiet;
            auto ran = service.run_job(req, quiet, *job_cancel);
            if (!ran) {
                result.status = "failed";
                result.failing = "worker";
                result.detail = ran.error().message();
            } else {
                result = std::move(*ran);
            }
        }
        std::filesystem::remove_all(ws, ec);
        lost = keeper.lost();
        cancel_requested = keeper.cancel_requested();
    }
    if (lost) {
        ++slot.report.lost;
        slot.say("job " + std::to_string(job.id) + " " + job.name +
                 ": lost its lease (another worker took it over); its result is not recorded");
        return {};
    }
    if (cancel_requested && result.status != "passed") {
        result.status = "cancelled";
        result.detail = "cancelled by `ci cancel`";
    }
    store::CiFinish fin;
    fin.job_id = job.id;
    fin.worker = slot.worker;
    fin.status = result.status;
    fin.failing = result.failing;
    fin.detail = result.detail;
    fin.results = ci_results_json(result);
    fin.at = now_ms();
    auto finished = store.finish_ci_job(fin);
    if (!finished) {
        return tl::unexpected(finished.error());
    }
    (result.status == "passed"
         ? slot.report.passed
         : (result.status == "cancelled" ? slot.report.cancelled : slot.report.failed))++;
    slot.say("job " + std::to_string(job.id) + " " + job.name + ": " + result.status +
             (result.failing.empty() ? "" : " at " + result.failing) +
             (result.detail.empty() ? "" : ": " + result.detail));
    // The last job of a pipeline to finish writes its note.
    auto after = store.get_ci_pipeline(pipeline->id);
    if (slot.options.notes && after && after->status != "queued" && after->status != "running" &&
        !after->commit.empty() && git_is_local_repo(after->repo)) {
        if (auto st = git_write_note(runner, after->repo, after->commit, ci_note_text(*after));
            !st) {
            slot.say("pipeline " + std::to_string(after->id) + ": " + st.error().message());
        }
    }
    return {};
}

Status run_slot(Slot& slot) {
    auto store = store::open_store(slot.options.store_location);
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto lease_store = (*store)->connect_again();
    if (!lease_store) {
        return tl::unexpected(lease_store.error());
    }
    auto runner = os::make_process_runner();
    while (!slot.cancel.cancelled()) {
        store::CiClaim claim;
        claim.worker = slot.worker;
        claim.labels = slot.options.labels;
        claim.now = now_ms();
        claim.lease_ms = slot.options.lease.count();
        claim.max_attempts = slot.options.max_attempts;
        auto job = (*store)->claim_ci_job(claim);
        if (!job) {
            return tl::unexpected(job.error());
        }
        if (!*job) {
            if (slot.options.once) {
                return {};
            }
            if (auto st = (*store)->wait_for_ci_work(std::chrono::milliseconds(1000)); !st) {
                return st;
            }
            continue;
        }
        if (auto st = run_claimed(slot, **store, **lease_store, *runner, **job); !st) {
            return st;
        }
    }
    return {};
}

}  // namespace

std::string ci_note_text(const store::CiPipeline& pipeline) {
    std::string text =
        "shipshape-ci: " + pipeline.status + " (pipeline " + std::to_string(pipeline.id) + ")\n";
    if (!pipeline.reason.empty()) {
        text += pipeline.reason + "\n";
    }
    for (const auto& j : pipeline.jobs) {
        text += "  " + j.name + ": " + j.status;
        if (!j.failing.empty() && j.status != "passed") {
            text += " at " + j.failing;
        }
        text += "\n";
    }
    return text;
}

Result<CiWorkerReport> run_ci_worker(const CiWorkerOptions& options, const CiEnvironment& env,
                                     const os::CancelSource& cancel, const CiWorkerSay& say) {
    for (const auto& label : options.labels) {
        if (label.starts_with("shipshape:")) {
            return tl::unexpected(
                Error(Errc::invalid_argument, "label '" + label +
                                                  "': labels starting with \"shipshape:\" are "
                                                  "reserved (local `ci run` jobs carry them)"));
        }
    }
    const std::string base = options.name.empty()
                                 ? this_process().host + ":" + std::to_string(::getpid())
                                 : options.name;
    std::mutex say_mutex;
    CiWorkerSay serialized = [&](const std::string& line) {
        std::lock_guard lock(say_mutex);
        say(line);
    };
    const int n = std::max(1, options.concurrency);
    std::vector<Slot> slots;
    slots.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        slots.push_back({options,
                         env,
                         cancel,
                         serialized,
                         n == 1 ? base : base + "/" + std::to_string(i + 1),
                         {}});
    }
    std::vector<Status> results(static_cast<size_t>(n));
    std::vector<std::thread> threads;
    threads.reserve(static_cast<size_t>(n));
    for (size_t i = 0; i < slots.size(); ++i) {
        threads.emplace_back([&, i] { results[i] = run_slot(slots[i]); });
    }
    for (auto& t : threads) {
        t.join();
    }
    CiWorkerReport total;
    for (size_t i = 0; i < slots.size(); ++i) {
        if (!results[i]) {
            return tl::unexpected(results[i].error());
        }
        total.passed += slots[i].report.passed;
        total.failed += slots[i].report.failed;
        total.cancelled += slots[i].report.cancelled;
        total.lost += slots[i].report.lost;
    }
    return total;
}

}  // namespace shipshape::app
