// CI on check-in (#19): the use cases behind `shipshape ci`. One engine for both places a job
// runs: `ci run` in a developer's working tree (uncommitted changes included) and `ci worker`
// on a pushed commit. Either way a job is an ordinary checklist run (the checklist engine, the
// store's journal and log lines, so `ci log` and the dashboard read it like any run) whose every
// step runs
//   [under the job's fault profile: shipshape-fault --profile P --report R --]
//   shipshape ci sandbox --image I --workspace W -- COMMAND
// that is, in a container whose root is the image's (or, for image "host", this machine's root
// through a read-only overlay) and whose only writable places are the workspace and a private
// /tmp: a job cannot write outside its workspace.
//
// Threading: a CiService is used from one thread; the worker runs one CiService per slot.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checklist/engine.hpp"
#include "ci/config.hpp"
#include "ci/junit.hpp"
#include "core/error.hpp"
#include "os/container.hpp"
#include "os/process.hpp"
#include "store/store.hpp"

namespace shipshape::app {

// Where the programs and places a job needs are on this machine.
struct CiEnvironment {
    std::string shipshape_exe;  // this binary (steps are wrapped in its `ci sandbox`)
    std::string fault_exe;      // shipshape-fault, beside it
    std::string images_dir;     // built images (image != "host"); "" : none known
    std::string work_dir;       // workspaces and run directories are made under it
    std::string artifacts_dir;  // kept artifacts: DIR/PIPELINE/JOB/...; "" : not kept
    std::string user;           // recorded as the run's user
};

// A fault that fired (or not) in one step, from shipshape-fault's report.
struct CiFaultRow {
    std::string step;
    std::string fault;  // its description
    bool fired = false;
};

struct CiJobResult {
    std::string status;   // passed, failed or cancelled
    std::string failing;  // "test SUITE.NAME", "step ID", "requirements", "definition"
    std::string detail;   // one line
    std::string run_id;   // "" when the job failed before its run started
    ci::TestReport tests;
    std::vector<CiFaultRow> faults;
    std::vector<std::string> artifacts;  // kept files, relative to the artifacts directory
    std::vector<std::string> failed_steps;
};

// The JSON kept in store::CiJob::results, and back (app/ci_json.cpp).
std::string ci_results_json(const CiJobResult& r);
[[nodiscard]] Result<CiJobResult> parse_ci_results(std::string_view json);
// A job as store::CiJob::definition holds it, and back.
std::string ci_job_json(const ci::Job& job);
[[nodiscard]] Result<ci::Job> parse_ci_job(std::string_view json);
// The rows of one shipshape-fault report file ("shipshape.fault-report/1"), named by the file
// ("3-unit.json": the unit step's third process); none when it cannot be read.
std::vector<CiFaultRow> parse_fault_report_rows(const std::string& path);

struct CiJobRequest {
    ci::Job job;
    std::string workspace;    // absolute: the tree the job runs in (a private copy)
    std::string commit;       // recorded in the run's params ("" for uncommitted changes)
    std::string ref;          // likewise
    int64_t pipeline_id = 0;  // names the artifacts directory
    int64_t job_id = 0;
    // --rerun-failed: the run whose complete steps are kept (they are not run again).
    std::string previous_run;
    // Called once the job's run is recorded, before its first step (the worker attaches the run
    // to the job then, so that `ci log` can follow it).
    std::function<void(const std::string& run_id)> on_run{};
};

class CiService {
  public:
    CiService(store::Store& store, os::ProcessRunner& runner, const os::CancelSource& cancel,
              CiEnvironment env);

    // Runs one job in request.workspace to its end. Failures of the job itself (a step, a test,
    // its checklist, its requirements) are a CiJobResult with status failed, never an error;
    // Errc::store and Errc::io when the store or the machine fails.
    [[nodiscard]] Result<CiJobResult> run_job(const CiJobRequest& request,
                                              checklist::RunObserver& observer,
                                              const os::CancelSource& cancel);

  private:
    store::Store& m_store;
    os::ProcessRunner& m_runner;
    const os::CancelSource& m_cancel;
    CiEnvironment m_env;
};

// ---- Pipelines (app/ci_pipeline.cpp) ----

// One line a post-receive hook reads: "OLD NEW REF".
struct PushedRef {
    std::string old_id;
    std::string new_id;
    std::string ref;
};
// The lines of a post-receive hook's standard input; malformed lines are left out.
std::vector<PushedRef> parse_post_receive(std::string_view text);

struct EnqueueOutcome {
    PushedRef push;
    int64_t pipeline_id = 0;  // 0: nothing was enqueued (see skipped)
    size_t jobs = 0;
    std::string reason;   // the pipeline failed at once: its definition is invalid
    std::string skipped;  // why nothing was enqueued: a deleted ref, no .shipshape-ci.toml
};

// The pipeline of `commit` from its .shipshape-ci.toml text (nullopt: the commit has none).
// Pure. An invalid file gives a pipeline with its `reason` and no jobs.
std::optional<store::CiPipeline> make_ci_pipeline(const std::optional<std::string>& config_text,
                                                  const std::string& repo, const PushedRef& push,
                                                  int64_t now);

// Enqueues one pipeline per pushed ref and commit of `repo` (deleted refs and notes refs are
// skipped). Reads each commit's .shipshape-ci.toml with git; returns at once (no job runs
// here). Errc::store when the store fails.
[[nodiscard]] Result<std::vector<EnqueueOutcome>> enqueue_pushes(
    store::CiStore& store, os::ProcessRunner& runner, const std::string& repo,
    const std::vector<PushedRef>& pushes);

// The label local runs' jobs carry, which no worker may take (`ci worker --labels` refuses
// labels starting with "shipshape:"), so that a worker on the same store never runs them.
inline constexpr std::string_view k_local_label = "shipshape:local";

struct CiLocalRequest {
    std::string dir;                // inside the application's working tree
    std::vector<std::string> jobs;  // empty: every job
    bool rerun_failed = false;
};

struct CiLocalJob {
    ci::Job job;
    CiJobResult result;
};

struct CiLocalReport {
    int64_t pipeline_id = 0;
    std::string top;   // the working tree
    std::string tree;  // git's id of the tree that ran
    std::vector<CiLocalJob> jobs;
    std::vector<std::string> notes;  // e.g. which jobs --rerun-failed kept from the last run
    bool passed() const;
};

// `ci run`: copies the working tree (uncommitted changes included) into a fresh workspace under
// env.work_dir and runs the selected jobs one after another, recording a pipeline (source
// "local", ref "working-tree") as a worker would. --rerun-failed reruns only the jobs that
// failed in the newest local pipeline of this tree, and in them only the steps that did not
// complete. Errc::invalid_definition (file:line:col) for an invalid .shipshape-ci.toml,
// Errc::not_found outside a git working tree, for an unknown job, or when there is no earlier
// run to rerun.
[[nodiscard]] Result<CiLocalReport> run_ci_locally(
    store::Store& store, os::ProcessRunner& runner, const os::CancelSource& cancel,
    const CiEnvironment& env, const CiLocalRequest& request,
    const std::function<checklist::RunObserver&(const ci::Job&)>& observer_for);

// ---- Workers (app/ci_worker.cpp) ----

struct CiWorkerOptions {
    std::string store_location;       // every slot opens its own connection to it
    std::string name;                 // "" : host:pid
    std::vector<std::string> labels;  // jobs whose labels are all here
    int concurrency = 1;              // jobs at once (one slot, thread and connection each)
    bool once = false;                // drain the queue, then return
    Millis lease{30000};              // renewed every third of it while a job runs
    bool notes = true;                // write the git note when a pipeline ends
    int max_attempts = 3;
};

struct CiWorkerReport {
    size_t passed = 0, failed = 0, cancelled = 0, lost = 0;  // lost: the lease was taken away
};

// What a worker tells its operator, one line at a time (from any slot's thread; serialized).
using CiWorkerSay = std::function<void(const std::string& line)>;

// Takes jobs from the queue until `cancel` fires (or, with once, until none is left), running
// each in a fresh checkout of its commit under env.work_dir/ws/, its lease renewed by a thread
// of its own; a job whose lease is lost (the worker stalled past it and another took the job)
// or which `ci cancel` asks to stop is interrupted. Errc::invalid_argument for a label starting
// with "shipshape:"; Errc::store when the store cannot be opened.
[[nodiscard]] Result<CiWorkerReport> run_ci_worker(const CiWorkerOptions& options,
                                                   const CiEnvironment& env,
                                                   const os::CancelSource& cancel,
                                                   const CiWorkerSay& say);

// The note a finished pipeline leaves on its commit: "shipshape-ci: failed (pipeline 7)" and a
// line per job with its status and what failed.
std::string ci_note_text(const store::CiPipeline& pipeline);

// ---- `ci sandbox` (app/ci_sandbox.cpp): what every process of a job runs inside ----
struct CiSandboxOptions {
    std::string image{ci::k_host_image};  // "host", or an image name or id
    std::string images_dir;               // where images are, for an image
    std::string workspace;                // absolute; the one writable place besides /tmp
    os::ContainerNetwork network = os::ContainerNetwork::none;
    std::vector<std::string> argv;
    std::vector<std::string> env;  // what the command sees, exactly
    std::string cwd;               // the command's; the workspace when it is not inside it
    // Bound at /tmp (the job's /tmp, shared by its steps); "" : a private tmpfs per process.
    std::string tmp_dir;
};
// The container for `o` (pure, for tests): for "host" the lower dir is "/" itself, read-only
// through the overlay; the workspace is bound read-write at its own path.
os::ContainerSpec ci_sandbox_spec(const CiSandboxOptions& o, std::vector<std::string> lower_dirs);
// Runs the command; returns its shell status. Errc::not_found for an unknown image, and
// os::run_container's errors.
[[nodiscard]] Result<int> run_ci_sandbox(const CiSandboxOptions& o);

// ---- Git (app/ci_git.cpp): through the git CLI, every call an argv ----

// Whether `repo` is a repository on this machine (a directory), not a URL: clones share its
// objects, and notes are written into it.
bool git_is_local_repo(const std::string& repo);
// The top of the working tree holding `dir`. Errc::not_found when it is not in one.
[[nodiscard]] Result<std::string> git_toplevel(os::ProcessRunner& runner, const std::string& dir);
// `path` at `commit` of the repository `git_dir` (bare, or a working tree: its .git); nullopt
// when the commit has no such file. Errc::not_found for an unknown commit.
[[nodiscard]] Result<std::optional<std::string>> git_show_file(os::ProcessRunner& runner,
                                                               const std::string& git_dir,
                                                               const std::string& commit,
                                                               const std::string& path);
// Makes `dest` (absent or empty) a checkout of `commit` from `repo` (a path: shared objects, no
// copy; a URL: a shallow fetch of that commit).
[[nodiscard]] Status git_checkout(os::ProcessRunner& runner, const std::string& repo,
                                  const std::string& commit, const std::string& dest);
// Copies the working tree at `top` into `dest` as git sees it: tracked files with their
// uncommitted changes and untracked files that are not ignored (a private index, so the
// user's is untouched). Returns the tree id of what was copied.
[[nodiscard]] Result<std::string> git_copy_working_tree(os::ProcessRunner& runner,
                                                        const std::string& top,
                                                        const std::string& dest);
// Writes (replacing) the note of `commit` under refs/notes/shipshape-ci in `git_dir`.
[[nodiscard]] Status git_write_note(os::ProcessRunner& runner, const std::string& git_dir,
                                    const std::string& commit, const std::string& text);

inline constexpr const char* k_ci_notes_ref = "refs/notes/shipshape-ci";

}  // namespace shipshape::app
