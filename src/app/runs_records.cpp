// The use cases of RunService that only read or write records and run nothing: check-off,
// list and show.
#include "app/run_locks.hpp"
#include "app/runs.hpp"
#include "checklist/load.hpp"
#include "os/file_system.hpp"
#include "os/process.hpp"

namespace shipshape::app {

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
    if (run.host != local_hostname()) {
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
        const Redactor redactor(engine_options(store::RunRecord{}, 0).secrets);
        for (auto& r : *runs) {
            mark_if_gone(r);
            redact_params(r, redactor);
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
    // What the journal holds is redacted already; params and notes are as people typed them.
    const Redactor redactor(engine_options(d.run, 0).secrets);
    redact_params(d.run, redactor);
    for (auto& e : d.events) {
        e.detail = redactor.apply(e.detail);
    }
    for (auto& c : *offs) {
        c.note = redactor.apply(c.note);
    }
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
