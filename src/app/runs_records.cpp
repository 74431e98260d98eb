// The use cases of RunService that only read or write records and run nothing: check-off,
// list and show.
#include <algorithm>
#include <limits>
#include <set>
#include <string>

#include "app/run_locks.hpp"
#include "app/runs.hpp"
#include "checklist/load.hpp"
#include "core/text.hpp"
#include "os/file_system.hpp"
#include "os/process.hpp"

namespace shipshape::app {

namespace {

// A run recorded as executing whose process still lives (on this machine; elsewhere it cannot be
// seen, and the record is believed).
bool process_live(const store::RunRecord& run) {
    if (run.status != "running" && run.status != "undoing") {
        return false;
    }
    return run.host != local_hostname() || os::process_start_ticks(static_cast<pid_t>(run.pid));
}

}  // namespace

Result<CheckOffReport> RunService::check_off(const std::string& run_id, const std::string& step_id,
                                             const std::string& role, const std::string& by,
                                             const std::string& note) {
    const std::string name = by.empty() ? current_user() : by;
    if (auto problem = find_control_character(name, LineBreaks::rejected); !problem.empty()) {
        return fail(Errc::invalid_argument,
                    "the name '" + escape_control(name) + "'" +
                        (by.empty() ? " (from $USER; give one with --by)" : "") +
                        " is refused: " + problem +
                        "; names may not contain control characters and must be valid UTF-8");
    }
    auto target = check_off_target(run_id, step_id, role, note);
    if (!target) {
        return fail(target.error());
    }
    if (target->signed_check_off) {
        return fail(Errc::permission_denied,
                    "step '" + step_id + "' needs a signed check-off: shipshape check-off " +
                        run_id + " " + step_id + " --as " + role +
                        " --key ~/.ssh/id_ed25519 (an unsigned one, from the command line or the "
                        "server, is refused)");
    }
    return record_check_off(target->run,
                            store::CheckOff{run_id, step_id, role, name, note, now_ms()});
}

Result<RunService::CheckOffTarget> RunService::check_off_target(const std::string& run_id,
                                                                const std::string& step_id,
                                                                const std::string& role,
                                                                const std::string& note) {
    if (auto problem = find_control_character(note, LineBreaks::allowed); !problem.empty()) {
        return fail(Errc::invalid_argument,
                    "the note is refused: " + problem +
                        "; notes may span lines (newline and tab are kept) but may not contain "
                        "other control characters and must be valid UTF-8");
    }
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
                                                 "', not '" + escape_control(role) + "'");
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
                    who = " by " + escape_control(c.by);
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
    return CheckOffTarget{std::move(*run), step->signed_check_off};
}

Result<CheckOffReport> RunService::record_check_off(const store::RunRecord& run,
                                                    const store::CheckOff& check_off) {
    CheckOffReport report;
    report.check_off = check_off;
    if (auto st = m_store.add_check_off(report.check_off); !st) {
        return fail(st.error());
    }
    report.env = run.env;
    report.checklist_name = run.checklist_name;
    report.checklist_path = run.checklist_path;
    // Read after the check-off is recorded: a live run reads the journal again after it
    // records that it stops (RunService::execute), so one of the two sees the other.
    if (auto now = m_store.get_run(run.id)) {
        report.live = process_live(*now);
        report.pid = now->pid;
    }
    return report;
}

Result<std::string> RunService::run_waiting_at(const std::string& step_id) {
    auto runs = m_store.list_runs(std::numeric_limits<int>::max());
    if (!runs) {
        return fail(runs.error());
    }
    std::vector<const store::RunRecord*> waiting;
    for (const auto& r : *runs) {
        // Runs that are done or undone have no step left waiting.
        if (r.status == "done" || r.status == "undone") {
            continue;
        }
        auto steps = m_store.get_steps(r.id);
        if (!steps) {
            return fail(steps.error());
        }
        for (const auto& s : *steps) {
            if (s.step_id == step_id && s.state == "waiting") {
                waiting.push_back(&r);
            }
        }
    }
    if (waiting.empty()) {
        return fail(Errc::conflict, "no run is waiting for a check-off of step '" +
                                        escape_control(step_id) +
                                        "' (see 'shipshape runs', and name the run)");
    }
    if (waiting.size() == 1) {
        return waiting.front()->id;
    }
    std::string list;
    for (const auto* r : waiting) {
        list += "\n  " + r->id + " (checklist " + escape_control(r->checklist_name) +
                ", environment " + escape_control(r->env) + ", " + r->status + ")";
    }
    return fail(Errc::invalid_argument,
                std::to_string(waiting.size()) + " runs are waiting for a check-off of step '" +
                    escape_control(step_id) + "'; name the run instead of 'last':" + list);
}

namespace {

// A run recorded as executing whose shipshape process is gone (kill -9, a crash, a reboot) is
// shown as interrupted: that is what it is, and `resume` continues it either way.
void mark_if_gone(store::RunRecord& run) {
    if ((run.status == "running" || run.status == "undoing") && !process_live(run)) {
        run.status = "interrupted";
    }
}

}  // namespace

Result<std::vector<store::RunRecord>> RunService::list(int limit) {
    store::RunFilter all;
    all.limit = limit;
    return list(all);
}

Result<std::vector<store::RunRecord>> RunService::list(const store::RunFilter& filter) {
    // The store filters on the status as recorded; "interrupted" is what a recorded running or
    // undoing run shows once its process is gone. So a status filter asks the store for every
    // recorded status that can show as the one wanted, and keeps the runs that do. When a query
    // filled its limit but fewer runs were kept than asked for (gone runs dropped from
    // "running"), it is asked again for more: each kept list must be complete down to the
    // limit for the merged newest-first list to be right.
    std::vector<std::string> recorded = {filter.status};
    if (filter.status == "interrupted") {
        recorded = {"interrupted", "running", "undoing"};
    }
    const Redactor redactor(engine_options(store::RunRecord{}, 0).secrets);
    constexpr int k_most = std::numeric_limits<int>::max() / 4;
    for (int asked = filter.limit;; asked = std::min(k_most, asked * 4)) {
        std::vector<store::RunRecord> kept;
        bool complete = true;
        for (const auto& status : recorded) {
            store::RunFilter query = filter;
            query.status = status;
            query.limit = asked;
            auto runs = m_store.list_runs(query);
            if (!runs) {
                return fail(runs.error());
            }
            const size_t fetched = runs->size();
            size_t kept_here = 0;
            for (auto& r : *runs) {
                mark_if_gone(r);
                if (filter.status.empty() || r.status == filter.status) {
                    redact_params(r, redactor);
                    kept.push_back(std::move(r));
                    ++kept_here;
                }
            }
            if (static_cast<int>(fetched) == asked && static_cast<int>(kept_here) < filter.limit) {
                complete = false;
            }
        }
        if (complete || asked == k_most) {
            std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
                return a.started_at != b.started_at ? a.started_at > b.started_at : a.id > b.id;
            });
            if (static_cast<int>(kept.size()) > filter.limit) {
                kept.resize(static_cast<size_t>(filter.limit));
            }
            return kept;
        }
    }
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
    // Which steps have log lines in the store: a run recorded on another machine has no files here.
    auto logged = m_store.steps_with_logs(run_id);
    if (!logged) {
        return fail(logged.error());
    }
    const std::set<std::string> in_store(logged->begin(), logged->end());
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
        v.needs = step.needs;
        std::string log = log_path(run_id, step.id);
        if (fs->exists(log)) {
            v.log_path = log;
        }
        v.has_log = !v.log_path.empty() || in_store.count(step.id) > 0;
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
                hv.has_log = !hv.log_path.empty() || in_store.count(s.step_id) > 0;
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
