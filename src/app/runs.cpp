#include "app/runs.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>

#include "app/run_journal.hpp"
#include "checklist/load.hpp"
#include "os/file_system.hpp"
#include "os/process.hpp"

extern char** environ;

namespace shipshape::app {

using checklist::StepState;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
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

namespace {

// Runs the commands of fleet steps: through the agent on remote hosts, here for this machine.
class FleetHostRunner final : public checklist::HostRunner {
  public:
    FleetHostRunner(const Project& project, FleetService* fleet, os::ProcessRunner& local)
        : m_fleet(fleet), m_local(local), m_root(project.root) {
        for (auto& h : all_hosts(project.inventory)) {
            m_hosts.emplace(h.name, std::move(h));
        }
    }

    Result<os::ProcessOutcome> run(const std::string& host, const os::ProcessSpec& spec,
                                   os::OutputSink& sink, const os::CancelSource* cancel) override {
        auto it = m_hosts.find(host);
        if (it == m_hosts.end()) {
            return fail(Errc::not_found, "no host '" + host + "' in inventory.toml");
        }
        if (it->second.local) {
            os::ProcessSpec here = spec;
            if (here.cwd.empty()) {
                here.cwd = m_root;
            } else {
                here.cwd = os::path_absolute(here.cwd, m_root);
            }
            std::vector<std::string> env;
            for (char** e = environ; e && *e; ++e) {
                env.emplace_back(*e);
            }
            env.insert(env.end(), spec.env->begin(), spec.env->end());
            here.env = std::move(env);
            return m_local.run(here, sink, cancel);
        }
        if (!m_fleet) {
            return fail(Errc::unsupported,
                        "host " + host + " is remote and no ssh transport is set up");
        }
        RemoteExec req{spec.argv, spec.env.value_or(std::vector<std::string>{}), spec.cwd,
                       spec.timeout};
        auto o =
            m_fleet->exec(it->second, req, [&](std::string_view chunk) { sink.on_output(chunk); });
        if (!o && o.error().code() == Errc::interrupted) {
            return os::ProcessOutcome{os::ExitKind::cancelled, -1, Millis(0)};
        }
        return o;
    }

  private:
    FleetService* m_fleet;
    os::ProcessRunner& m_local;
    std::string m_root;
    std::map<std::string, SelectedHost> m_hosts;
};

std::string hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) {
        return "localhost";
    }
    return buf;
}

std::string current_user() {
    if (const char* u = std::getenv("USER"); u && *u) {
        return u;
    }
    if (passwd* pw = ::getpwuid(::getuid())) {
        return pw->pw_name;
    }
    return std::to_string(::getuid());
}

}  // namespace

// A run's definition, rendered for execution, with everything that must outlive the engine.
struct RunService::Loaded {
    checklist::Checklist rendered;
    Redactor redactor;
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
    auto rendered = checklist::render_checklist(
        *parsed, *vars, [this](const std::string& p) { return resolve_hosts(p); });
    if (!rendered) {
        return fail(rendered.error());
    }
    auto loaded = std::make_unique<Loaded>();
    loaded->rendered = std::move(*rendered);
    return loaded;
}

Result<std::vector<std::string>> RunService::lock(const std::string& env,
                                                  const std::string& run_id) {
    const std::string me_host = hostname();
    store::LockHolder me;
    me.env = env;
    me.run_id = run_id;
    me.pid = ::getpid();
    me.pid_start_ticks = os::process_start_ticks(::getpid()).value_or(0);
    me.host = me_host;
    me.started_at = now_ms();
    auto is_stale = [&](const store::LockHolder& h) {
        if (h.host != me_host) {
            return false;  // cannot see processes on other machines
        }
        auto ticks = os::process_start_ticks(static_cast<pid_t>(h.pid));
        return !ticks || *ticks != h.pid_start_ticks;
    };
    auto r = m_store.acquire_env_lock(me, is_stale);
    if (!r) {
        return fail(r.error());
    }
    std::vector<std::string> notes;
    if (!r->acquired) {
        const auto& h = *r->holder;
        std::time_t secs = h.started_at / 1000;
        std::tm tm{};
        localtime_r(&secs, &tm);
        char when[64];
        std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        return fail(Errc::conflict, "environment '" + env + "' is locked by run " + h.run_id +
                                        " (pid " + std::to_string(h.pid) + " on " + h.host +
                                        ", started " + when +
                                        "); wait for it to finish, or stop it first");
    }
    if (r->holder) {
        notes.push_back("took over the lock of environment '" + env + "' from run " +
                        r->holder->run_id + " (pid " + std::to_string(r->holder->pid) +
                        " is no longer running)");
    }
    return notes;
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
    auto rendered = checklist::render_checklist(
        *parsed, *vars, [this](const std::string& p) { return resolve_hosts(p); });
    if (!rendered) {
        return fail(rendered.error());
    }

    PlanReport report;
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
    run.user = current_user();
    run.host = hostname();
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
    auto notes = lock(env, run.id);
    if (!notes) {
        return fail(notes.error());
    }
    if (auto st = fs->create_directories(run_dir(run.id)); !st) {
        (void)m_store.release_env_lock(env, run.id);
        return fail(st.error());
    }
    if (auto st = m_store.create_run(run); !st) {
        (void)m_store.release_env_lock(env, run.id);
        return fail(st.error());
    }
    return execute(std::move(*loaded), std::move(run), {}, observer, request.undo_on_failure,
                   request.parallel, std::move(*notes));
}

Result<RunService::Reopened> RunService::reopen(store::RunRecord run) {
    auto loaded = load_run(run);
    if (!loaded) {
        return fail(loaded.error());
    }
    auto notes = lock(run.env, run.id);
    if (!notes) {
        return fail(notes.error());
    }
    auto steps = m_store.get_steps(run.id);
    if (!steps) {
        (void)m_store.release_env_lock(run.env, run.id);
        return fail(steps.error());
    }
    return Reopened{std::move(run), std::move(*loaded), std::move(*notes), std::move(*steps)};
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

Result<std::vector<checklist::HostVars>> RunService::resolve_hosts(
    const std::string& pattern) const {
    auto hosts = select_hosts(m_project.inventory, {pattern});
    if (!hosts) {
        return fail(hosts.error());
    }
    std::vector<checklist::HostVars> out;
    for (const auto& h : *hosts) {
        checklist::HostVars hv;
        hv.name = h.name;
        hv.vars["host"] = h.name;
        hv.vars["host.address"] = h.address;
        hv.vars["host.env"] = h.env;
        hv.vars["host.user"] = h.user;
        for (const auto& [k, v] : h.tags) {
            hv.vars["host.tags." + k] = v;
        }
        out.push_back(std::move(hv));
    }
    return out;
}

Result<RunReport> RunService::execute(std::unique_ptr<Loaded> loaded, store::RunRecord run,
                                      const std::map<std::string, StepState>& prior,
                                      checklist::RunObserver& observer, bool undo_on_failure,
                                      int parallel, std::vector<std::string> notes) {
    auto options = engine_options(run, parallel);
    loaded->redactor = Redactor(options.secrets);
    const std::string dir = run_dir(run.id);
    if (auto st = m_store.update_run(run.id, "running", ::getpid(), now_ms()); !st) {
        (void)m_store.release_env_lock(run.env, run.id);
        return fail(st.error());
    }
    RunJournal journal(m_store, run.id, dir, loaded->redactor);
    FileStepLogs logs(dir);
    FleetHostRunner hosts(m_project, m_fleet, m_runner);
    checklist::EngineDeps deps{journal, observer, logs, m_runner, m_cancel, &hosts};
    RunReport report;
    report.outcome = checklist::execute(loaded->rendered, prior, deps, options);
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
    auto st = m_store.update_run(run.id, status, ::getpid(), now_ms());
    (void)m_store.release_env_lock(run.env, run.id);
    if (!st) {
        return fail(st.error());
    }
    run.status = status;
    report.run = std::move(run);
    report.checklist = &loaded->rendered;
    m_loaded.push_back(std::move(loaded));
    return report;
}

std::vector<std::string> RunService::undo_order(const checklist::Checklist& checklist,
                                                const std::vector<store::StepRecord>& steps) const {
    std::vector<const store::StepRecord*> done;
    for (const auto& s : steps) {
        const auto* step = checklist.find_step(s.step_id);
        if (step && step->undo && s.state == "ok" && s.finish_seq > 0 && s.undo_state != "undone") {
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
    FileStepLogs logs(dir);
    checklist::EngineDeps deps{journal, observer, logs, m_runner, m_cancel};
    RunReport report;
    report.run_dir = dir;
    report.notes = std::move(notes);
    report.undo = checklist::execute_undo(loaded->rendered, order, deps, options);
    report.outcome.status = report.undo->status;
    std::string status = report.undo->status == checklist::RunStatus::done          ? "undone"
                         : report.undo->status == checklist::RunStatus::interrupted ? "interrupted"
                                                                                    : "undo-failed";
    auto st = m_store.update_run(run_id, status, ::getpid(), now_ms());
    (void)m_store.release_env_lock(stored.env, stored.id);
    if (!st) {
        return fail(st.error());
    }
    stored.status = status;
    report.run = std::move(stored);
    report.checklist = &loaded->rendered;
    m_loaded.push_back(std::move(loaded));
    return report;
}

Result<store::CheckOff> RunService::check_off(const std::string& run_id, const std::string& step_id,
                                              const std::string& role, const std::string& by,
                                              const std::string& note) {
    auto run = m_store.get_run(run_id);
    if (!run) {
        return fail(run.error());
    }
    auto parsed = checklist::parse_checklist(run->checklist_text, run->checklist_path);
    if (!parsed) {
        return fail(parsed.error());
    }
    const checklist::Step* step = parsed->find_step(step_id);
    if (!step) {
        return fail(Errc::not_found, "run " + run_id + " has no step '" + step_id + "'");
    }
    if (step->kind != checklist::StepKind::manual) {
        return fail(Errc::invalid_argument, "step '" + step_id +
                                                "' is not a manual step: it runs a command and "
                                                "cannot be checked off");
    }
    if (role != step->role) {
        return fail(Errc::permission_denied, "step '" + step_id +
                                                 "' must be checked off by role '" + step->role +
                                                 "', not '" + role + "'");
    }
    auto steps = m_store.get_steps(run_id);
    if (!steps) {
        return fail(steps.error());
    }
    std::string state = "pending";
    for (const auto& s : *steps) {
        if (s.step_id == step_id) {
            state = s.state;
        }
    }
    if (state == "checked-off") {
        auto offs = m_store.get_check_offs(run_id);
        std::string who;
        if (offs) {
            for (const auto& c : *offs) {
                if (c.step_id == step_id) {
                    who = " by " + c.by;
                }
            }
        }
        return fail(Errc::conflict,
                    "step '" + step_id + "' of run " + run_id + " is already checked off" + who);
    }
    if (state != "waiting") {
        return fail(Errc::conflict, "step '" + step_id + "' of run " + run_id +
                                        " is not waiting for a check-off (it is " + state +
                                        "): the steps it needs must complete first");
    }
    store::CheckOff c{run_id, step_id, role, by.empty() ? current_user() : by, note, now_ms()};
    if (auto st = m_store.add_check_off(c); !st) {
        return fail(st.error());
    }
    return c;
}

namespace {

// A run recorded as executing whose shipshape process is gone (kill -9, a crash, a reboot) is
// shown as interrupted: that is what it is, and `resume` continues it either way.
void mark_if_gone(store::RunRecord& run) {
    if (run.status != "running" && run.status != "undoing") {
        return;
    }
    if (run.host != hostname()) {
        return;  // cannot see processes on other machines
    }
    if (!os::process_start_ticks(static_cast<pid_t>(run.pid))) {
        run.status = "interrupted";
    }
}

}  // namespace

Result<std::vector<store::RunRecord>> RunService::list(int limit) {
    auto runs = m_store.list_runs(limit);
    if (runs) {
        for (auto& r : *runs) {
            mark_if_gone(r);
        }
    }
    return runs;
}

Result<RunDetails> RunService::show(const std::string& run_id) {
    auto run = m_store.get_run(run_id);
    if (!run) {
        return fail(run.error());
    }
    auto parsed = checklist::parse_checklist(run->checklist_text, run->checklist_path);
    if (!parsed) {
        return fail(parsed.error());
    }
    auto steps = m_store.get_steps(run_id);
    if (!steps) {
        return fail(steps.error());
    }
    auto offs = m_store.get_check_offs(run_id);
    if (!offs) {
        return fail(offs.error());
    }
    auto events = m_store.get_events(run_id);
    if (!events) {
        return fail(events.error());
    }
    RunDetails d;
    d.run = std::move(*run);
    mark_if_gone(d.run);
    d.events = std::move(*events);
    auto fs = os::make_local_file_system();
    for (const auto& step : parsed->steps) {
        StepView v;
        v.record.run_id = run_id;
        v.record.step_id = step.id;
        v.record.state = "pending";
        for (const auto& s : *steps) {
            if (s.step_id == step.id) {
                v.record = s;
            }
        }
        v.kind = step.kind == checklist::StepKind::manual ? "manual" : "command";
        v.role = step.role;
        std::string log = log_path(run_id, step.id);
        if (fs->exists(log)) {
            v.log_path = log;
        }
        std::vector<StepView> host_rows;
        for (const auto& s : *steps) {
            if (s.step_id.size() > step.id.size() + 1 && s.step_id.rfind(step.id + "@", 0) == 0) {
                StepView hv;
                hv.record = s;
                hv.kind = "host";
                std::string hlog = log_path(run_id, s.step_id);
                if (fs->exists(hlog)) {
                    hv.log_path = hlog;
                }
                host_rows.push_back(std::move(hv));
            }
        }
        for (const auto& c : *offs) {
            if (c.step_id == step.id) {
                v.check_offs.push_back(c);
            }
        }
        d.steps.push_back(std::move(v));
        for (auto& hv : host_rows) {
            d.steps.push_back(std::move(hv));
        }
    }
    return d;
}

}  // namespace shipshape::app
