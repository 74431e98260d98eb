// One CI job, run to its end (ci_service.hpp): its checklist through the checklist engine, every
// process of it wrapped in `ci sandbox` (and `fault` under a profile), then its JUnit results,
// its faults' reports and its artifacts.
#include <glob.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include "app/ci_service.hpp"
#include "app/env_lock.hpp"
#include "app/run_journal.hpp"
#include "app/runs.hpp"
#include "app/step_logs.hpp"
#include "checklist/load.hpp"
#include "core/text.hpp"
#include "facts/collect.hpp"
#include "image/image.hpp"
#include "os/file_system.hpp"
#include "require/requirements.hpp"

namespace shipshape::app {

namespace {

// Runs every process through `prefix(spec)` + its argv: the sandbox (and the fault wrapper).
class WrappingRunner final : public os::ProcessRunner {
  public:
    using Prefix = std::function<std::vector<std::string>(const os::ProcessSpec&)>;
    WrappingRunner(os::ProcessRunner& inner, Prefix prefix)
        : m_inner(inner), m_prefix(std::move(prefix)) {}

    Result<os::ProcessOutcome> run(const os::ProcessSpec& spec, os::OutputSink& sink,
                                   const os::CancelSource* cancel) override {
        return m_inner.run(wrap(spec), sink, cancel);
    }
    Result<std::unique_ptr<os::Child>> start(const os::ProcessSpec& spec) override {
        return m_inner.start(wrap(spec));
    }

  private:
    os::ProcessSpec wrap(const os::ProcessSpec& spec) const {
        os::ProcessSpec wrapped = spec;
        wrapped.argv = m_prefix(spec);
        wrapped.argv.insert(wrapped.argv.end(), spec.argv.begin(), spec.argv.end());
        return wrapped;
    }
    os::ProcessRunner& m_inner;
    Prefix m_prefix;
};

// The files under `dir` matching the repo-relative glob `pattern`, relative to `dir`, sorted.
std::vector<std::string> glob_in(const std::string& dir, const std::string& pattern) {
    std::vector<std::string> out;
    glob_t g{};
    std::string full = dir + "/" + pattern;
    if (::glob(full.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
        out.reserve(g.gl_pathc);
        for (size_t i = 0; i < g.gl_pathc; ++i) {
            std::string p = g.gl_pathv[i];
            if (std::filesystem::is_regular_file(p)) {
                out.push_back(p.substr(dir.size() + 1));
            }
        }
    }
    ::globfree(&g);
    std::sort(out.begin(), out.end());
    return out;
}

// A job's name as a directory name: matrix cells carry '[', '=', '/' and ','.
std::string dir_name(std::string_view name) {
    std::string out;
    for (char c : name) {
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')
                   ? c
                   : '_';
    }
    return out;
}

CiJobResult failed_before_run(std::string failing, std::string detail) {
    CiJobResult r;
    r.status = "failed";
    r.failing = std::move(failing);
    r.detail = std::move(detail);
    return r;
}

// The first line of a (possibly multi-line) message.
std::string first_line(std::string_view text) {
    auto nl = text.find('\n');
    return std::string(nl == std::string_view::npos ? text : text.substr(0, nl));
}

// Cancels `job` when `outer` fires or `timeout` passes. `stop` (fired by the destructor)
// ends the watch at once: a job's end must not wait for a poll interval.
class JobWatch {
  public:
    JobWatch(const os::CancelSource& outer, const os::CancelSource& job,
             const os::CancelSource& stop, Millis timeout)
        : m_stop(stop), m_thread([this, &outer, &job, &stop, timeout] {
              const auto until = std::chrono::steady_clock::now() + timeout;
              for (;;) {
                  int wait_ms = -1;
                  if (timeout.count() > 0) {
                      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          until - std::chrono::steady_clock::now());
                      wait_ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
                  }
                  pollfd fds[2] = {{outer.fd(), POLLIN, 0}, {stop.fd(), POLLIN, 0}};
                  ::poll(fds, 2, wait_ms);
                  if (stop.cancelled()) {
                      return;
                  }
                  if (outer.cancelled()) {
                      job.cancel();
                      return;
                  }
                  if (timeout.count() > 0 && std::chrono::steady_clock::now() >= until) {
                      m_timed_out = true;
                      job.cancel();
                      return;
                  }
              }
          }) {}
    ~JobWatch() {
        m_stop.cancel();
        m_thread.join();
    }
    JobWatch(const JobWatch&) = delete;
    JobWatch& operator=(const JobWatch&) = delete;
    bool timed_out() const { return m_timed_out; }

  private:
    const os::CancelSource& m_stop;
    std::atomic<bool> m_timed_out{false};
    std::thread m_thread;
};

// Copies the job's artifacts (its globs, and the fault reports) to
// artifacts_dir/PIPELINE/JOB/, recording their paths relative to artifacts_dir. Best effort: a
// file that cannot be copied is named in the result's artifacts with " (not kept: why)".
void keep_artifacts(const std::string& artifacts_dir, const CiJobRequest& request,
                    const std::string& run_dir, CiJobResult& result) {
    if (artifacts_dir.empty()) {
        return;
    }
    const std::string rel_dir =
        (request.pipeline_id > 0 ? std::to_string(request.pipeline_id) : std::string("local")) +
        "/" + dir_name(request.job.name);
    auto keep = [&](const std::string& from, const std::string& rel) {
        std::string to = artifacts_dir + "/" + rel_dir + "/" + rel;
        std::error_code ec;
        std::filesystem::create_directories(os::path_parent(to), ec);
        std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
        result.artifacts.push_back(rel_dir + "/" + rel +
                                   (ec ? " (not kept: " + ec.message() + ")" : ""));
    };
    for (const auto& pattern : request.job.artifacts) {
        for (const auto& rel : glob_in(request.workspace, pattern)) {
            keep(request.workspace + "/" + rel, rel);
        }
    }
    for (const auto& name : glob_in(run_dir + "/faults", "*.json")) {
        keep(run_dir + "/faults/" + name, "faults/" + name);
    }
}

}  // namespace

CiService::CiService(store::Store& store, os::ProcessRunner& runner, const os::CancelSource& cancel,
                     CiEnvironment env)
    : m_store(store), m_runner(runner), m_cancel(cancel), m_env(std::move(env)) {}

Result<CiJobResult> CiService::run_job(const CiJobRequest& request,
                                       checklist::RunObserver& observer,
                                       const os::CancelSource& cancel) {
    const ci::Job& job = request.job;
    const std::string& ws = request.workspace;
    auto text = os::read_whole_file(os::path_join(ws, job.checklist));
    if (!text) {
        return failed_before_run("definition", "job " + job.name + ": checklist '" + job.checklist +
                                                   "': " + text.error().message());
    }
    auto parsed = checklist::parse_checklist(*text, job.checklist);
    if (!parsed) {
        return failed_before_run("definition", first_line(parsed.error().message()));
    }

    // The image, and the facts its requirements are checked against.
    std::string image_ref;  // what `ci sandbox --image` is given
    std::string facts_root = "/";
    if (job.image == ci::k_host_image) {
        image_ref = std::string(ci::k_host_image);
    } else {
        auto image = m_env.images_dir.empty()
                         ? Result<image::ImageRecord>(tl::unexpected(
                               Error(Errc::not_found, "no images directory on this worker")))
                         : image::resolve_image(m_env.images_dir, job.image);
        if (!image) {
            return failed_before_run(
                "image", "job " + job.name + ": image '" + job.image +
                             "': " + image.error().message() +
                             " (build it with `shipshape image build`, or use image = \"host\")");
        }
        image_ref = image->id;
        facts_root = image->base_rootfs;
    }
    if (!job.requirements.empty()) {
        auto req_text = os::read_whole_file(os::path_join(ws, job.requirements));
        if (!req_text) {
            return failed_before_run("requirements", req_text.error().message());
        }
        auto req = require::parse_requirements(*req_text, job.requirements);
        if (!req) {
            return failed_before_run("requirements", first_line(req.error().message()));
        }
        facts::GatherOptions go;
        go.root = facts_root;
        auto facts = facts::gather_facts(go);
        auto rows = require::check_requirements(*req, facts, [&](const std::string& path) {
            return std::optional<bool>(
                std::filesystem::exists(facts_root == "/" ? path : facts_root + path));
        });
        for (const auto& row : rows) {
            if (row.verdict == require::Verdict::fail) {
                return failed_before_run("requirements", "job " + job.name + ": " + row.kind + " " +
                                                             row.subject + ": needs " + row.needed +
                                                             ", the image has " + row.found);
            }
        }
    }

    // The run: an ordinary checklist run in the store.
    store::RunRecord run;
    const int64_t start = now_ms();
    run.id = make_run_id(start);
    run.checklist_path = job.checklist;
    run.checklist_name = parsed->name;
    run.checklist_text = *text;
    run.env = "ci";
    run.params = job.params;
    run.status = "running";
    run.user = m_env.user.empty() ? current_user() : m_env.user;
    run.host = this_process().host;
    run.pid = ::getpid();
    run.started_at = start;
    run.updated_at = start;
    // Run ids carry 16 random bits per second: at CI's rates (tens of jobs a second across
    // workers) two can meet, so a taken id is drawn again.
    for (int attempt = 0;; ++attempt) {
        auto st = m_store.create_run(run);
        if (st) {
            break;
        }
        if (st.error().code() != Errc::already_exists || attempt == 20) {
            return tl::unexpected(st.error());
        }
        run.id = make_run_id(now_ms());
    }
    // From here on a failure of the job's definition ends its recorded run too.
    auto fail_run = [&](std::string failing, std::string detail) {
        (void)m_store.update_run(run.id, "failed", ::getpid(), now_ms());
        CiJobResult r = failed_before_run(std::move(failing), std::move(detail));
        r.run_id = run.id;
        return r;
    };
    auto vars =
        checklist::bind_params(*parsed, job.params, {{"env", "ci"}, {"run", run.id}, {"repo", ws}});
    if (!vars) {
        return fail_run("definition", first_line(vars.error().message()));
    }
    auto rendered = checklist::render_checklist(*parsed, *vars);
    if (!rendered) {
        return fail_run("definition", first_line(rendered.error().message()));
    }
    const std::string run_dir = m_env.work_dir + "/runs/" + run.id;
    for (const char* sub : {"/faults", "/tmp"}) {
        if (auto st = os::make_local_file_system()->create_directories(run_dir + sub); !st) {
            return tl::unexpected(st.error());
        }
    }
    ::chmod((run_dir + "/tmp").c_str(), 01777);

    // The fault profile, with {{workspace}} filled in (its paths may lie in the workspace,
    // whose place only the worker knows).
    std::string profile;
    if (!job.faults.empty()) {
        auto ptext = os::read_whole_file(os::path_join(ws, job.faults));
        if (!ptext) {
            return fail_run("definition", "job " + job.name + ": fault profile '" + job.faults +
                                              "': " + ptext.error().message());
        }
        profile = run_dir + "/faults.toml";
        std::string filled = *ptext;
        for (size_t at = 0; (at = filled.find("{{workspace}}", at)) != std::string::npos;) {
            filled.replace(at, 13, ws);
            at += ws.size();
        }
        if (auto st = os::write_whole_file_atomic(profile, filled); !st) {
            return tl::unexpected(st.error());
        }
    }
    if (request.on_run) {
        request.on_run(run.id);
    }

    checklist::EngineOptions options;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv = *e;
        if (!kv.starts_with("SHIPSHAPE_STORE=") && !kv.starts_with("SHIPSHAPE_TOKEN=")) {
            options.base_env.emplace_back(kv);  // the job sees neither the store nor a token
        }
    }
    options.base_env.push_back("CI=true");
    options.base_env.push_back("SHIPSHAPE_CI=1");
    options.base_env.push_back("SHIPSHAPE_CI_JOB=" + job.name);
    options.base_env.push_back("SHIPSHAPE_CI_COMMIT=" + request.commit);
    options.base_env.push_back("SHIPSHAPE_CI_REF=" + request.ref);
    options.base_env.push_back("SHIPSHAPE_RUN=" + run.id);
    options.base_env.push_back("SHIPSHAPE_WORKSPACE=" + ws);
    options.default_cwd = ws;

    // Which step a process belongs to, for its fault report's name: the engine runs a step's
    // processes one after another on the step's own thread.
    std::atomic<int> report_seq{0};
    WrappingRunner wrapped(m_runner, [&](const os::ProcessSpec& spec) {
        std::vector<std::string> prefix;
        if (!profile.empty()) {
            std::string step = "process";
            for (const auto& kv : spec.env.value_or(std::vector<std::string>{})) {
                if (kv.starts_with("SHIPSHAPE_STEP=")) {
                    step = kv.substr(15);
                }
            }
            prefix = {m_env.fault_exe,
                      "fault",
                      "--quiet",
                      "--profile",
                      profile,
                      "--report",
                      run_dir + "/faults/" + std::to_string(++report_seq) + "-" + dir_name(step) +
                          ".json",
                      "--"};
        }
        std::vector<std::string> sandbox{
            m_env.shipshape_exe, "ci", "sandbox", "--image", image_ref, "--workspace", ws, "--tmp",
            run_dir + "/tmp", "--network",
            // Under faults the command lives in the fault
            // sandbox's own network namespace already.
            (job.network == ci::JobNetwork::host || !profile.empty()) ? "host" : "none"};
        if (!m_env.images_dir.empty()) {
            sandbox.insert(sandbox.end(), {"--images", m_env.images_dir});
        }
        sandbox.emplace_back("--");
        prefix.insert(prefix.end(), sandbox.begin(), sandbox.end());
        return prefix;
    });

    std::map<std::string, checklist::StepState> prior;
    if (!request.previous_run.empty()) {
        auto steps = m_store.get_steps(request.previous_run);
        if (steps) {
            for (const auto& s : *steps) {
                auto state = checklist::parse_state(s.state);
                if (state && checklist::is_complete(*state)) {
                    prior[s.step_id] = *state;
                }
            }
        }
    }

    auto job_cancel = os::CancelSource::create();
    auto watch_stop = os::CancelSource::create();
    if (!job_cancel || !watch_stop) {
        return tl::unexpected(job_cancel ? watch_stop.error() : job_cancel.error());
    }
    const Redactor redactor;
    checklist::RunOutcome outcome;
    bool timed_out = false;
    {
        RunJournal journal(m_store, run.id, run_dir, redactor);
        LogBatcher batcher([this] { return m_store.connect_again(); });
        StoreStepLogs logs(run_dir, run.id, batcher);
        JobWatch watch(cancel, *job_cancel, *watch_stop, job.timeout);
        checklist::EngineDeps deps{journal, observer, logs, wrapped, *job_cancel};
        outcome = checklist::execute(*rendered, prior, deps, options);
        batcher.flush();
        timed_out = watch.timed_out();
    }
    std::string status(checklist::run_status_name(outcome.status));
    if (auto st = m_store.update_run(run.id, status, ::getpid(), now_ms()); !st) {
        return tl::unexpected(st.error());
    }

    CiJobResult result;
    result.run_id = run.id;
    result.failed_steps = outcome.failed;
    if (!job.junit.empty()) {
        for (const auto& rel : glob_in(ws, job.junit)) {
            auto xml = os::read_whole_file(os::path_join(ws, rel));
            if (!xml) {
                continue;
            }
            auto report = ci::parse_junit(*xml, rel);
            if (!report) {
                result.failing = "junit";
                result.detail = first_line(report.error().message());
                continue;
            }
            ci::merge(result.tests, *report);
        }
    }
    for (const auto& name : glob_in(run_dir + "/faults", "*.json")) {
        auto rows = parse_fault_report_rows(run_dir + "/faults/" + name);
        result.faults.insert(result.faults.end(), rows.begin(), rows.end());
    }

    // Passed only when every step completed and no test failed: a runner that exits 0 after
    // failures (or a step with `|| true`) is still caught by its JUnit report.
    const ci::TestCase* failed_test = nullptr;
    for (const auto& t : result.tests.cases) {
        if (t.status == ci::TestStatus::failed || t.status == ci::TestStatus::error) {
            failed_test = &t;
            break;
        }
    }
    if (outcome.status == checklist::RunStatus::interrupted || timed_out) {
        result.status = timed_out ? "failed" : "cancelled";
        result.failing = timed_out ? "timeout" : "";
        result.detail = timed_out ? "the job ran longer than its timeout" : "cancelled";
    } else if (failed_test != nullptr) {
        result.status = "failed";
        result.failing = "test " + ci::full_name(*failed_test);
        result.detail = failed_test->message;
    } else if (outcome.status != checklist::RunStatus::done || !result.failing.empty()) {
        result.status = "failed";
        if (result.failing.empty()) {
            std::string step = outcome.failed.empty()
                                   ? (outcome.waiting.empty() ? std::string() : outcome.waiting[0])
                                   : outcome.failed[0];
            result.failing = "step " + step;
            auto it = outcome.results.find(step);
            result.detail = outcome.status == checklist::RunStatus::waiting
                                ? "waits for a manual check-off: CI jobs cannot have manual steps"
                                : (it != outcome.results.end() ? it->second.detail : "failed");
        }
    } else {
        result.status = "passed";
        result.detail = std::to_string(rendered->steps.size()) + " steps";
        if (!result.tests.cases.empty()) {
            result.detail += ", " + std::to_string(result.tests.passed) + " tests passed";
        }
    }
    keep_artifacts(m_env.artifacts_dir, request, run_dir, result);
    return result;
}

}  // namespace shipshape::app
