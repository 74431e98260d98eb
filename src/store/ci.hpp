// The CI queue (#19): pipelines (one per pushed ref and commit, or one local `ci run`) and
// their jobs, which workers claim, hold under a lease, and finish. Part of every Store (see
// store.hpp); both backends follow the contract below, checked by the one contract suite.
//
// Contracts:
// - A job is held by at most one worker at a time. claim_ci_job picks the oldest claimable job
//   (queued, or running with an expired lease: its worker died) and marks it running under the
//   claimant's lease in one transaction. PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so many
//   workers on many machines claim concurrently without waiting on each other. SQLite: the
//   write transaction (BEGIN IMMEDIATE) serializes claimants on this machine.
// - Only the holder of the lease may renew it, attach a run or finish the job: the calls check
//   `worker` and the lease in the same transaction and change nothing for anyone else.
// - A pipeline's status is derived from its jobs on every change, in the same transaction
//   (ci_pipeline_status), and stored, so that it can be filtered and read without its jobs.
// - Every mutating call is one transaction, durable when it returns. Times are ms since the
//   epoch, given by the caller (tests move time on; the lease is compared with `now`).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape::store {

// Job statuses: queued, running, passed, failed, cancelled. Pipeline statuses: the same.
struct CiJob {
    int64_t id = 0;           // assigned by enqueue_ci_pipeline
    int64_t pipeline_id = 0;  // assigned by enqueue_ci_pipeline
    std::string name;         // "test", or "test[image=prod,faults=disk]" for a matrix cell
    // What the worker needs to run it (the resolved job as JSON, app/ci_*); opaque to the store.
    std::string definition;
    // A worker must have every one of them to claim the job. Stored as a comma list: a label is
    // not empty and holds no comma (check_ci_pipeline).
    std::vector<std::string> labels;
    std::string status = "queued";
    std::string worker;       // the claimant ("host:pid" or --name); "" before the first claim
    int64_t lease_until = 0;  // while running: a claim after this time requeues the job
    int attempts = 0;         // claims so far
    bool cancel_requested = false;  // ci cancel of a running job: its worker stops it
    std::string run_id;             // the checklist run (RunStore) holding its steps and logs
    std::string failing;            // the failing step or test ("step unit", "test kv.PutGet")
    std::string detail;             // one line: why it failed, or a summary when it passed
    std::string results;            // JSON (app/ci_*): tests, fault reports, artifacts; opaque
    int64_t queued_at = 0;
    int64_t started_at = 0;  // of the latest claim
    int64_t finished_at = 0;
};

struct CiPipeline {
    int64_t id = 0;                 // assigned by enqueue_ci_pipeline
    std::string repo;               // where workers fetch the commit from (a path or a git URL)
    std::string ref;                // "refs/heads/main"; "working-tree" for a local `ci run`
    std::string commit;             // full hex id; "" for a local run of uncommitted changes
    std::string source;             // "hook", "local", "manual"
    std::string status = "queued";  // derived (ci_pipeline_status) unless `reason` is set
    // Why the pipeline failed before any job ran (an invalid .shipshape-ci.toml: its
    // "file:line:col: message" lines). A pipeline enqueued with a reason has no jobs and is
    // stored as failed.
    std::string reason;
    int64_t created_at = 0;
    int64_t updated_at = 0;
    std::vector<CiJob> jobs;  // in enqueue order (by id)
};

// The status of a pipeline whose jobs have these statuses: running while any job runs, or
// while some finished and some wait; queued while all wait; else failed when any failed or was
// cancelled (cancelled when every job was), passed when all passed (or there are none).
std::string ci_pipeline_status(const std::vector<CiJob>& jobs);

// Whether a worker with `worker_labels` may run a job needing `job_labels`: it has every one.
bool ci_labels_match(const std::vector<std::string>& job_labels,
                     const std::vector<std::string>& worker_labels);

// What enqueue_ci_pipeline checks before writing anything: Errc::invalid_argument unless every
// job has a name, no two jobs share one (cancel_ci finds jobs by name), and every label is
// non-empty without a comma.
Status check_ci_pipeline(const CiPipeline& pipeline);

// The detail of a job whose lease expired `attempts` times (claim_ci_job ends it): failed, or
// cancelled when a cancel was asked.
std::string ci_lost_detail(int attempts, bool cancel_requested);

struct CiClaim {
    std::string worker;
    std::vector<std::string> labels;  // the worker's labels
    int64_t now = 0;
    int64_t lease_ms = 30000;
    // A job whose lease expired this many times is not handed out again: it is finished as
    // failed ("its worker was lost N times") in the same transaction.
    int max_attempts = 3;
};

struct CiLease {
    bool held = false;              // false: the lease expired and was taken, or the job ended
    bool cancel_requested = false;  // ci cancel asked the holder to stop
};

struct CiFinish {
    int64_t job_id = 0;
    std::string worker;
    std::string status;  // passed, failed or cancelled
    std::string failing;
    std::string detail;
    std::string results;
    int64_t at = 0;
};

// Which pipelines find_ci_pipelines returns: every given field must match; `commit` matches
// as a prefix of at least 4 characters (as git abbreviates), the others exactly.
struct CiFilter {
    std::string repo;
    std::string ref;
    std::string commit;
    std::string status;
    int limit = 20;  // newest first
};

class CiStore {
  public:
    virtual ~CiStore() = default;

    // Writes the pipeline and its jobs (their status queued) in one transaction and wakes
    // waiting workers (PostgreSQL: NOTIFY). Returns the pipeline's id. A pipeline with a
    // `reason` is written as failed, its jobs ignored. Errc::invalid_argument, writing nothing,
    // when check_ci_pipeline refuses it.
    [[nodiscard]] virtual Result<int64_t> enqueue_ci_pipeline(const CiPipeline& pipeline) = 0;
    // The oldest claimable job whose labels the claimant has, now running under its lease
    // (attempts + 1, started_at = now, worker, lease_until = now + lease_ms); nullopt when
    // there is none. Cancelled pipelines' jobs are never handed out.
    [[nodiscard]] virtual Result<std::optional<CiJob>> claim_ci_job(const CiClaim& claim) = 0;
    // Extends the lease to `until` if `worker` holds it; says whether it does and whether a
    // cancel was asked.
    [[nodiscard]] virtual Result<CiLease> renew_ci_lease(int64_t job_id, std::string_view worker,
                                                         int64_t until) = 0;
    // Records the run carrying the job's steps. Errc::conflict when `worker` does not hold it.
    [[nodiscard]] virtual Status set_ci_job_run(int64_t job_id, std::string_view worker,
                                                std::string_view run_id) = 0;
    // Ends the job and updates its pipeline's status. Returns false, writing nothing, when the
    // worker no longer holds it (its lease was taken after expiring, or it was cancelled while
    // queued).
    [[nodiscard]] virtual Result<bool> finish_ci_job(const CiFinish& finish) = 0;
    // Queued jobs become cancelled; running ones get cancel_requested (their worker stops them
    // and finishes them as cancelled). `job_name` empty: every job of the pipeline. Returns how
    // many jobs it changed. Errc::not_found for an unknown pipeline or job name.
    [[nodiscard]] virtual Result<int64_t> cancel_ci(int64_t pipeline_id, std::string_view job_name,
                                                    int64_t at) = 0;
    // Errc::not_found for an unknown id. With its jobs.
    [[nodiscard]] virtual Result<CiPipeline> get_ci_pipeline(int64_t id) = 0;
    // Errc::not_found for an unknown id.
    [[nodiscard]] virtual Result<CiJob> get_ci_job(int64_t id) = 0;
    // Newest first (created_at, then id), with their jobs.
    [[nodiscard]] virtual Result<std::vector<CiPipeline>> find_ci_pipelines(
        const CiFilter& filter) = 0;
    // Retention: removes the pipelines (and their jobs) that ended before `before` (every job
    // finished, or failed with a reason). Returns the removed pipelines, with their jobs, so that
    // the caller can remove their artifacts.
    [[nodiscard]] virtual Result<std::vector<CiPipeline>> prune_ci(int64_t before) = 0;
    // Blocks until a pipeline may have been enqueued or a lease may have expired, at most
    // `timeout`. PostgreSQL: LISTEN for enqueue_ci_pipeline's NOTIFY; SQLite: sleeps the
    // shorter of `timeout` and k_ci_poll. Spurious wake-ups are allowed.
    [[nodiscard]] virtual Status wait_for_ci_work(std::chrono::milliseconds timeout) = 0;
};

inline constexpr std::chrono::milliseconds k_ci_poll{100};

}  // namespace shipshape::store
