#include "app/runs.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>
#include <set>

#include "app/run_hosts.hpp"
#include "app/run_journal.hpp"
#include "app/run_live.hpp"
#include "app/run_locks.hpp"
#include "app/step_logs.hpp"
#include "checklist/load.hpp"
#include "checklist/validate.hpp"
#include "core/clock.hpp"
#include "core/wall_ms.hpp"
#include "os/file_system.hpp"
#include "os/process.hpp"

extern char** environ;

namespace shipshape::app {

using checklist::StepState;

void redact_params(store::RunRecord& run, const Redactor& redactor) {
    for (auto& [k, v] : run.params) {
        v = redactor.apply(v);
    }
}

int64_t now_ms() {
    return wall_ms();
}

std::string make_run_id(int64_t now) {
    std::time_t secs = now / 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    static const char k_hex[] = "0123456789abcdef";
    std::random_device rd;
    std::string suffix;
    for (int i = 0; i < 4; ++i) {
        suffix += k_hex[rd() % 16];
    }
    return std::string(stamp) + "-" + suffix;
}

// A run's definition, rendered for execution, with everything that must outlive the engine.
struct RunService::Loaded {
    checklist::Checklist rendered;
    Redactor redactor;
    HeldLocks locks;  // released when the run stops
};

RunService::RunService(const Project& project, store::Store& store, os::ProcessRunner& runner,
                       const os::CancelSource& cancel)
    : m_project(project), m_store(store), m_runner(runner), m_cancel(cancel) {}

RunService::~RunService() = default;

std::string RunService::run_dir(const std::string& run_id) const {
    return m_project.state_dir() + "/runs/" + run_id;
}

std::string RunService::log_path(const std::string& run_id, const std::string& step_id) const {
    return run_dir(run_id) + "/" + step_id + ".log";
}

checklist::EngineOptions RunService::engine_options(const store::RunRecord& run,
                                                    int parallel) const {
    checklist::EngineOptions o;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv = *e;
        bool ours = false;
        for (auto name : {"SHIPSHAPE_RUN=", "SHIPSHAPE_ENV=", "SHIPSHAPE_REPO=",
                          "SHIPSHAPE_RUN_DIR=", "SHIPSHAPE_STEP="}) {
            ours = ours || kv.rfind(name, 0) == 0;
        }
        if (ours) {
            continue;  // set below, for this run
        }
        o.base_env.emplace_back(kv);
    }
    o.base_env.push_back("SHIPSHAPE_RUN=" + run.id);
    o.base_env.push_back("SHIPSHAPE_ENV=" + run.env);
    o.base_env.push_back("SHIPSHAPE_REPO=" + m_project.root);
    o.base_env.push_back("SHIPSHAPE_RUN_DIR=" + run_dir(run.id));
    o.default_cwd = m_project.root;
    for (const auto& name : m_project.config.secrets) {
        if (const char* v = std::getenv(name.c_str()); v && *v) {
            o.secrets.emplace_back(v);
        }
    }
    o.parallel = parallel;
    return o;
}

Result<std::unique_ptr<RunService::Loaded>> RunService::load_run(const store::RunRecord& run) {
    auto parsed = checklist::parse_checklist(run.checklist_text, run.checklist_path);
    if (!parsed) {
        return fail(parsed.error());
    }
    auto vars = checklist::bind_params(
        *parsed, run.params, {{"env", run.env}, {"run", run.id}, {"repo", m_project.root}});
    if (!vars) {
        return fail(vars.error());
    }
    auto rendered = render(*parsed, std::move(*vars));
    if (!rendered) {
        return fail(rendered.error());
    }
    auto loaded = std::make_unique<Loaded>();
    loaded->rendered = std::move(*rendered);
    return loaded;
}

Result<checklist::Checklist> RunService::render(const checklist::Checklist& parsed,
                                                Variables vars) const {
    RenderFacts facts(m_project, m_fleet, facts_sections(parsed));
    for (auto& [k, v] : facts.local()) {
        vars.emplace(k, std::move(v));
    }
    auto resolver = [&](const std::string& pattern) -> Result<std::vector<checklist::HostVars>> {
        auto hosts = resolve_host_vars(m_project.inventory, pattern);
        if (!hosts) {
            return fail(hosts.error());
        }
        std::vector<std::string> names;
        for (const auto& h : *hosts) {
            names.push_back(h.name);
        }
        auto host_facts = facts.hosts(names);
        if (!host_facts) {
            return fail(host_facts.error());
        }
        for (auto& h : *hosts) {
            // A host's own facts win over this machine's, which the run's variables hold.
            for (auto& [k, v] : (*host_facts)[h.name]) {
                h.vars[k] = std::move(v);
            }
        }
        return hosts;
    };
    return checklist::render_checklist(parsed, vars, resolver);
}

Status RunService::lock(Loaded& loaded, const store::RunRecord& run) {
    auto keys = run_lock_keys(m_project.inventory, run.env, loaded.rendered);
    auto held = acquire_run_locks(m_store, keys, run.id, system_clock());
    if (!held) {
        return fail(held.error());
    }
    loaded.locks = std::move(*held);
    return {};
}

Result<std::string> RunService::resolve_env(const StartRequest& request) const {
    std::string env = request.env.empty() ? m_project.config.default_env : request.env;
    if (m_project.inventory.find_env(env)) {
        return env;
    }
    std::string known;
    for (const auto& n : m_project.inventory.env_names()) {
        known += (known.empty() ? "" : ", ") + n;
    }
    return fail(Errc::invalid_argument,
                "unknown environment '" + env + "' (inventory.toml has: " + known + ")");
}

Result<PlanReport> RunService::plan(const StartRequest& request) {
    auto resolved_env = resolve_env(request);
    if (!resolved_env) {
        return fail(resolved_env.error());
    }
    const std::string env = *resolved_env;
    std::string path = os::path_absolute(request.checklist_file, request.cwd);
    auto fs = os::make_local_file_system();
    auto text = fs->read_file(path);
    if (!text) {
        return fail(text.error());
    }
    auto parsed = checklist::parse_checklist(*text, request.checklist_file);
    if (!parsed) {
        return fail(parsed.error());
    }
    auto vars = checklist::bind_params(*parsed, request.params,
                                       {{"env", env}, {"run", "(plan)"}, {"repo", m_project.root}});
    if (!vars) {
        return fail(vars.error());
    }
    auto rendered = render(*parsed, std::move(*vars));
    if (!rendered) {
        return fail(rendered.error());
    }

    PlanReport report;
    report.warnings = checklist::shell_warnings(*parsed);
    report.checklist_name = rendered->name;
    report.checklist_path = request.checklist_file;
    report.env = env;
    report.parallel = request.parallel > 0 ? request.parallel : rendered->parallel;
    store::RunRecord pseudo;
    pseudo.id = "(plan)";
    pseudo.env = env;
    auto options = engine_options(pseudo, 0);
    std::map<std::string, int> wave;
    for (const auto& id : checklist::topological_order(*rendered)) {
        const auto& step = *rendered->find_step(id);
        PlannedStep p;
        p.id = id;
        p.needs = step.needs;
        p.wave = 1;
        for (const auto& n : step.needs) {
            p.wave = std::max(p.wave, wave[n] + 1);
        }
        wave[id] = p.wave;
        if (step.kind == checklist::StepKind::manual) {
            p.action = step.manual;
            p.role = step.role;
            p.verdict = "check-off";
        } else {
            p.action = step.run.display();
            p.verdict = "run";
            if (step.on_hosts()) {
                // Its guards belong to the hosts: the plan names them instead of running them.
                std::string names;
                for (const auto& h : step.per_host) {
                    names += (names.empty() ? "" : ", ") + h.host;
                }
                p.reason =
                    "on " + std::to_string(step.per_host.size()) + " hosts (" + names + ")" +
                    (step.serial > 0 ? ", " + std::to_string(step.serial) + " at a time" : "") +
                    (step.unless ? "; 'unless' is checked on each host" : "");
            } else if (step.unless) {
                struct Discard : os::OutputSink {
                    void on_output(std::string_view) override {}
                } discard;
                os::ProcessSpec spec;
                spec.argv = step.unless->to_argv();
                spec.env = options.base_env;
                for (const auto& [k, v] : step.env) {
                    spec.env->push_back(k + "=" + v);
                }
                spec.cwd =
                    step.cwd.empty() ? m_project.root : os::path_absolute(step.cwd, m_project.root);
                spec.timeout = step.timeout.count() > 0 ? step.timeout : Millis(60000);
                auto r = m_runner.run(spec, discard, &m_cancel);
                if (r && r->success()) {
                    p.verdict = "skip";
                    p.reason = "unless passed: " + step.unless->display();
                } else if (!r) {
                    p.reason = "unless could not run: " + r.error().message();
                }
            }
        }
        report.steps.push_back(std::move(p));
    }
    // A plan shows commands rendered with the params, and a param may hold a secret's value.
    const Redactor redactor(options.secrets);
    for (auto& p : report.steps) {
        redactor.apply_in_place(p.action);
        redactor.apply_in_place(p.reason);
    }
    return report;
}

Result<RunReport> RunService::start(const StartRequest& request, checklist::RunObserver& observer) {
    auto resolved_env = resolve_env(request);
    if (!resolved_env) {
        return fail(resolved_env.error());
    }
    const std::string env = *resolved_env;
    std::string path = os::path_absolute(request.checklist_file, request.cwd);
    auto fs = os::make_local_file_system();
    auto text = fs->read_file(path);
    if (!text) {
        return fail(text.error());
    }
    store::RunRecord run;
    const int64_t now = now_ms();
    run.id = make_run_id(now);
    // Store the path relative to the repo when it lies inside it, as people read it there.
    run.checklist_path =
        path.rfind(m_project.root + "/", 0) == 0 ? path.substr(m_project.root.size() + 1) : path;
    run.checklist_text = *text;
    run.env = env;
    run.params = request.params;
    run.status = "running";
    run.user = request.user.empty() ? current_user() : request.user;
    run.host = local_hostname();
    run.pid = ::getpid();
    run.started_at = now;
    run.updated_at = now;
    // Validate fully before anything is recorded or locked.
    {
        auto parsed = checklist::parse_checklist(*text, request.checklist_file);
        if (!parsed) {
            return fail(parsed.error());
        }
        run.checklist_name = parsed->name;
    }
    auto loaded = load_run(run);
    if (!loaded) {
        return fail(loaded.error());
    }
    if (auto st = lock(**loaded, run); !st) {
        return fail(st.error());
    }
    auto notes = (*loaded)->locks.notes;
    if (auto st = fs->create_directories(run_dir(run.id)); !st) {
        release_run_locks((*loaded)->locks);
        return fail(st.error());
    }
    {
        // The ledger keeps its entry for good, exported too: secret values masked (#17).
        store::RunRecord shown = run;
        redact_params(shown, Redactor(engine_options(run, 0).secrets));
        run.audit_params = std::move(shown.params);
    }
    if (auto st = m_store.create_run(run); !st) {
        release_run_locks((*loaded)->locks);
        return fail(st.error());
    }
    if (!request.release_id.empty()) {
        // The journal's record that this run carries the release (a stage's `after` gate).
        store::Event bound{0, now, run.id, "", std::string(k_release_event), request.release_id};
        if (auto st = m_store.append_event(bound); !st) {
            release_run_locks((*loaded)->locks);
            return fail(st.error());
        }
    }
    return execute(std::move(*loaded), std::move(run), {}, observer, request.undo_on_failure,
                   request.parallel, std::move(notes));
}

Result<RunService::Reopened> RunService::reopen(store::RunRecord run) {
    auto loaded = load_run(run);
    if (!loaded) {
        return fail(loaded.error());
    }
    if (auto st = lock(**loaded, run); !st) {
        return fail(st.error());
    }
    auto notes = (*loaded)->locks.notes;
    auto steps = m_store.get_steps(run.id);
    if (!steps) {
        release_run_locks((*loaded)->locks);
        return fail(steps.error());
    }
    return Reopened{std::move(run), std::move(*loaded), std::move(notes), std::move(*steps)};
}

Result<RunReport> RunService::resume(const std::string& run_id, checklist::RunObserver& observer) {
    auto run = m_store.get_run(run_id);
    if (!run) {
        return fail(run.error());
    }
    if (run->status == "undone" || run->status == "undoing" || run->status == "undo-failed") {
        return fail(Errc::conflict,
                    "run " + run_id + " was undone (" + run->status + "); start a new run instead");
    }
    auto reopened = reopen(std::move(*run));
    if (!reopened) {
        return fail(reopened.error());
    }
    auto& [stored, loaded, notes, steps] = *reopened;
    std::map<std::string, StepState> prior;
    const std::string dir = run_dir(run_id);
    for (const auto& s : steps) {
        auto state = checklist::parse_state(s.state).value_or(StepState::pending);
        if (state == StepState::running) {
            if (auto note = stop_leftover(dir, s.step_id)) {
                notes.push_back(*note);
            }
        }
        prior[s.step_id] = state;
    }
    (void)os::make_local_file_system()->create_directories(dir);
    return execute(std::move(loaded), std::move(stored), prior, observer, false, 0,
                   std::move(notes));
}

Result<RunReport> RunService::execute(std::unique_ptr<Loaded> loaded, store::RunRecord run,
                                      const std::map<std::string, StepState>& prior,
                                      checklist::RunObserver& observer, bool undo_on_failure,
                                      int parallel, std::vector<std::string> notes) {
    auto options = engine_options(run, parallel);
    loaded->redactor = Redactor(options.secrets);
    const std::string dir = run_dir(run.id);
    if (auto st = m_store.update_run(run.id, "running", ::getpid(), now_ms()); !st) {
        release_run_locks(loaded->locks);
        return fail(st.error());
    }
    RunJournal journal(m_store, run.id, dir, loaded->redactor);
    std::set<std::string> recorded_waiting;  // rewriting them could overwrite a check-off
    for (const auto& [id, state] : prior) {
        if (state == StepState::waiting) {
            recorded_waiting.insert(id);
        }
    }
    WaitingJournal first_journal(journal, recorded_waiting);
    LogBatcher batcher([this] { return m_store.connect_again(); });
    StoreStepLogs logs(dir, run.id, batcher);
    FleetHostRunner hosts(m_project, m_fleet, m_runner);
    checklist::EngineDeps deps{first_journal, observer, logs, m_runner, m_cancel, &hosts};
    RunReport report;
    report.outcome = checklist::execute(loaded->rendered, prior, deps, options);
    // A check-off may be recorded by another process while this run still executes other
    // steps: before stopping as "waiting", look again and continue with what it unblocked.
    // The status is written first and the journal read after it, while check_off records first
    // and reads the status after: one of the two sees the other.
    bool waiting_written = false;  // the store says "waiting" already: once is enough
    while (report.outcome.status == checklist::RunStatus::waiting && !m_cancel.cancelled()) {
        if (auto st = m_store.update_run(run.id, "waiting", ::getpid(), now_ms()); !st) {
            break;  // the final update below reports the store's failure
        }
        waiting_written = true;
        auto next_prior = checked_off_since(m_store, run.id, report.outcome.waiting);
        if (!next_prior && m_wait.enabled) {
            batcher.flush();  // the log is complete while the run waits
            auto waited = wait_until_checked_off(*loaded, run.id, report.outcome.waiting);
            if (!waited) {
                notes.push_back("stopped waiting: " + waited.error().message());
            } else {
                next_prior = std::move(*waited);
            }
        }
        if (!next_prior) {
            break;
        }
        if (auto st = m_store.update_run(run.id, "running", ::getpid(), now_ms()); !st) {
            break;
        }
        waiting_written = false;
        std::set<std::string> waited(report.outcome.waiting.begin(), report.outcome.waiting.end());
        WaitingJournal again_journal(journal, waited);
        WaitingObserver again_observer(observer, waited);
        checklist::EngineDeps again{again_journal, again_observer, logs,
                                    m_runner,      m_cancel,       &hosts};
        merge_outcome(report.outcome,
                      checklist::execute(loaded->rendered, *next_prior, again, options));
    }
    report.run_dir = dir;
    report.notes = std::move(notes);
    std::string status(checklist::run_status_name(report.outcome.status));
    if (report.outcome.status == checklist::RunStatus::failed && undo_on_failure &&
        !m_cancel.cancelled()) {
        auto steps = m_store.get_steps(run.id);
        if (steps) {
            auto order = undo_order(loaded->rendered, *steps);
            report.undo = checklist::execute_undo(loaded->rendered, order, deps, options);
            status = report.undo->status == checklist::RunStatus::done ? "undone" : "undo-failed";
        }
    }
    if (report.outcome.status == checklist::RunStatus::failed && !report.undo) {
        if (auto steps = m_store.get_steps(run.id)) {
            report.undoable = undo_order(loaded->rendered, *steps).size();
        }
    }
    batcher.flush();  // the log is in the store before the run's end is
    report.log_error = lost_log_error(batcher, dir);
    auto st = waiting_written && status == "waiting"
                  ? Status{}
                  : m_store.update_run(run.id, status, ::getpid(), now_ms());
    release_run_locks(loaded->locks);
    if (!st && report.outcome.fatal) {
        // Most often a full disk: the journal stopped the run, and its end cannot be recorded
        // either. Lead with what the journal lost; the step it lost was reported unrecorded.
        return fail(Errc::store,
                    "run " + run.id +
                        " stopped because its journal failed: " + report.outcome.fatal->message() +
                        " (recording the run's end failed too: " + st.error().message() + ")");
    }
    if (!st) {
        return fail(end_not_recorded(run.id, report.log_error, st.error()));
    }
    run.status = status;
    if (auto audit = m_store.audit_head(); audit && *audit) {
        report.audit_head = std::move(**audit);
    }
    redact_params(run, loaded->redactor);
    report.run = std::move(run);
    report.checklist = &loaded->rendered;
    m_loaded.push_back(std::move(loaded));
    return report;
}

Result<std::optional<std::map<std::string, StepState>>> RunService::wait_until_checked_off(
    const Loaded& loaded, const std::string& run_id, const std::vector<std::string>& waiting) {
    if (m_wait.on_waiting) {
        std::vector<std::pair<std::string, std::string>> steps;
        for (const auto& id : waiting) {
            const auto* step = loaded.rendered.find_step(id);
            steps.emplace_back(id, step ? step->role : "");
        }
        m_wait.on_waiting(steps);
    }
    return wait_for_check_off(m_store, run_id, waiting, m_wait.timeout, m_cancel);
}

std::vector<std::string> RunService::undo_order(const checklist::Checklist& checklist,
                                                const std::vector<store::StepRecord>& steps) const {
    // Plain steps and the hosts' copies of steps with `on` (each host is undone on its own);
    // the record of a step with `on` itself only sums up its hosts.
    std::vector<const store::StepRecord*> done;
    for (const auto& s : steps) {
        const auto* step = checklist.find_step_or_copy(s.step_id);
        if (step && step->undo && !step->on_hosts() && s.state == "ok" && s.finish_seq > 0 &&
            s.undo_state != "undone") {
            done.push_back(&s);
        }
    }
    std::sort(done.begin(), done.end(),
              [](const auto* a, const auto* b) { return a->finish_seq > b->finish_seq; });
    std::vector<std::string> order;
    order.reserve(done.size());
    for (const auto* s : done) {
        order.push_back(s->step_id);
    }
    return order;
}

Result<RunReport> RunService::undo(const std::string& run_id, checklist::RunObserver& observer) {
    auto run = m_store.get_run(run_id);
    if (!run) {
        return fail(run.error());
    }
    auto reopened = reopen(std::move(*run));
    if (!reopened) {
        return fail(reopened.error());
    }
    auto& [stored, loaded, notes, steps] = *reopened;
    auto order = undo_order(loaded->rendered, steps);
    auto options = engine_options(stored, 1);
    loaded->redactor = Redactor(options.secrets);
    const std::string dir = run_dir(run_id);
    (void)os::make_local_file_system()->create_directories(dir);
    (void)m_store.update_run(run_id, "undoing", ::getpid(), now_ms());
    RunJournal journal(m_store, run_id, dir, loaded->redactor);
    LogBatcher batcher([this] { return m_store.connect_again(); });
    StoreStepLogs logs(dir, run_id, batcher);
    FleetHostRunner hosts(m_project, m_fleet, m_runner);
    checklist::EngineDeps deps{journal, observer, logs, m_runner, m_cancel, &hosts};
    RunReport report;
    report.run_dir = dir;
    report.notes = std::move(notes);
    report.undo = checklist::execute_undo(loaded->rendered, order, deps, options);
    report.outcome.status = report.undo->status;
    batcher.flush();
    report.log_error = lost_log_error(batcher, dir);
    std::string status = report.undo->status == checklist::RunStatus::done          ? "undone"
                         : report.undo->status == checklist::RunStatus::interrupted ? "interrupted"
                                                                                    : "undo-failed";
    auto st = m_store.update_run(run_id, status, ::getpid(), now_ms());
    release_run_locks(loaded->locks);
    if (!st) {
        return fail(end_not_recorded(run_id, report.log_error, st.error()));
    }
    stored.status = status;
    if (auto audit = m_store.audit_head(); audit && *audit) {
        report.audit_head = std::move(**audit);
    }
    redact_params(stored, loaded->redactor);
    report.run = std::move(stored);
    report.checklist = &loaded->rendered;
    m_loaded.push_back(std::move(loaded));
    return report;
}

}  // namespace shipshape::app
