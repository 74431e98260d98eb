// StateService::run: plan, apply and drift over local and remote hosts (see state_service.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "app/audit_entries.hpp"
#include "app/env_lock.hpp"
#include "app/facts_service.hpp"
#include "app/state_service.hpp"
#include "core/wall_ms.hpp"
#include "os/fan_out.hpp"
#include "os/process.hpp"

namespace shipshape::app {

const char* mode_name(StateMode mode) {
    switch (mode) {
        case StateMode::plan:
            return "plan";
        case StateMode::apply:
            return "apply";
        case StateMode::drift:
            return "drift";
    }
    return "?";
}

std::vector<std::string> StateOutcome::hosts_with(HostVerdict verdict) const {
    std::vector<std::string> out;
    for (const auto& h : hosts) {
        if (h.verdict == verdict) {
            out.push_back(h.target.host.name);
        }
    }
    return out;
}

int64_t StateService::now_ms() const {
    return wall_ms(m_clock);
}

Result<Variables> StateService::params_for(const std::string& host, const Variables& given,
                                           bool* recorded) const {
    *recorded = false;
    Variables out;
    if (m_store) {
        auto applied = m_store->applied_params(host);
        if (!applied) {
            return fail(applied.error());
        }
        if (*applied) {
            for (const auto& [k, v] : (*applied)->params) {
                if (given.find(k) == given.end()) {
                    out[k] = v;
                    *recorded = true;
                }
            }
        }
    }
    for (const auto& [k, v] : given) {
        out[k] = v;
    }
    return out;
}

namespace {

bool is_local(const HostTarget& t, const StateRequest& request) {
    return t.host.local || request.self.has_value();
}

// "version=1.2, x=y": the parameters that came from the store (not overridden by --set).
std::string recorded_text(const Variables& used, const Variables& given) {
    std::string out;
    for (const auto& [k, v] : used) {
        if (given.find(k) == given.end()) {
            out += (out.empty() ? "" : ", ") + k + "=" + v;
        }
    }
    return out;
}

}  // namespace

Result<StateOutcome> StateService::run(StateMode mode, const StateRequest& request,
                                       const StateRunOptions& options) {
    auto targets = this->targets(request);
    if (!targets) {
        return fail(targets.error());
    }
    bool any_local = false;
    const HostTarget* first_remote = nullptr;
    for (const auto& t : *targets) {
        if (is_local(t, request)) {
            any_local = true;
        } else if (!first_remote) {
            first_remote = &t;
        }
    }
    const std::string root_text = request.root_given.empty() ? request.root : request.root_given;
    if (any_local && request.root != "/") {
        struct stat st {};
        if (::stat(request.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            return fail(Errc::invalid_argument, "--root " + root_text + ": not a directory");
        }
    }
    if (first_remote) {
        if (!m_fleet) {
            return fail(Errc::unsupported, "host " + first_remote->host.name + " (" +
                                               first_remote->host.address +
                                               ") is remote and no ssh transport is set up");
        }
        if (!request.root_given.empty() && request.root_given.front() != '/') {
            return fail(Errc::invalid_argument,
                        "--root " + request.root_given +
                            ": give an absolute path for remote hosts (it names a directory on "
                            "each host)");
        }
    }
    StateOutcome out;
    out.mode = mode;
    // One apply at a time per environment: the store's lock, the one runs take too.
    EnvLocks locks;
    if (mode == StateMode::apply && !request.self && m_store) {
        std::vector<std::string> keys;
        for (const auto& t : *targets) {
            keys.push_back(lock_key_of(t.host.name, t.host.env));
        }
        const LockOwner me = this_process();
        auto held = EnvLocks::acquire(
            *m_store, keys, "apply-" + std::to_string(now_ms()) + "-" + std::to_string(me.pid), me,
            m_clock, os::process_start_ticks, &out.notes);
        if (!held) {
            return fail(held.error());
        }
        locks = std::move(*held);
    }
    std::map<std::string, std::vector<std::string>> reused;  // recorded params -> hosts
    for (auto& t : *targets) {
        HostOutcome h;
        if (mode == StateMode::apply || request.self) {
            h.params = request.params;  // an apply uses what it is given; an agent is told
        } else {
            auto p = params_for(t.host.name, request.params, &h.params_recorded);
            if (!p) {
                return fail(p.error());
            }
            h.params = std::move(*p);
            if (h.params_recorded) {
                reused[recorded_text(h.params, request.params)].push_back(t.host.name);
            }
        }
        h.target = std::move(t);
        out.hosts.push_back(std::move(h));
    }
    for (const auto& [params, hosts] : reused) {
        std::string names;
        for (const auto& n : hosts) {
            names += (names.empty() ? "" : ", ") + n;
        }
        out.notes.push_back(names + ": using " + params + " from the last apply (--set overrides)");
    }
    std::vector<HostOutcome*> remotes;
    for (auto& h : out.hosts) {
        if (!is_local(h.target, request)) {
            remotes.push_back(&h);
        }
    }
    run_remotes(mode, remotes, request, options);
    auto start = m_clock.monotonic();
    for (auto& h : out.hosts) {
        if (is_local(h.target, request)) {
            run_local(mode, h, request, options);
        }
    }
    save_cache();  // apply saved it already when it changed files; this is a no-op then
    out.elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(m_clock.monotonic() - start).count();
    if (mode == StateMode::apply && !request.self && m_store) {
        for (const auto& h : out.hosts) {
            if (h.verdict == HostVerdict::failed) {
                continue;  // drift keeps comparing with what last applied in full
            }
            store::AppliedParams applied{h.target.host.name, now_ms(), {}};
            applied.params.assign(h.params.begin(), h.params.end());
            if (auto st = m_store->save_applied_params(applied); !st) {
                out.notes.push_back(h.target.host.name +
                                    ": its parameters were not recorded: " + st.error().message());
            }
        }
    }
    redact(out);
    // The ledger (#17): applies and drift findings, as redacted (app/audit_entries.hpp).
    if (m_store && !request.self) {
        for (const auto& e : state_audit_entries(out, this_process().user, now_ms())) {
            if (auto st = m_store->append_audit(e); !st) {
                out.notes.push_back(e.subject +
                                    ": not recorded in the audit ledger: " + st.error().message());
                break;
            }
        }
    }
    return out;
}

void StateService::redact(StateOutcome& out) const {
    if (m_redactor.empty()) {
        return;
    }
    const Redactor& r = m_redactor;
    auto redact_error = [&](std::optional<Error>& e) {
        if (e) {
            e = Error(e->code(), r.apply(e->message()));
        }
    };
    for (auto& n : out.notes) {
        r.apply_in_place(n);
    }
    for (auto& h : out.hosts) {
        for (auto& [k, v] : h.params) {
            r.apply_in_place(v);
        }
        if (h.plan) {
            redact_error(h.plan->error);
            if (h.plan->state) {
                for (auto& res : h.plan->state->resources) {
                    r.apply_in_place(res.path);
                    r.apply_in_place(res.name);
                    r.apply_in_place(res.line);
                    for (auto& a : res.run) {
                        r.apply_in_place(a);
                    }
                }
            }
            if (h.plan->plan) {
                // The plan is spent (applied, or only shown): what apply would have used of it,
                // content and argv, is redacted too, so that nothing later can print it.
                for (auto& c : h.plan->plan->changes) {
                    for (std::string* text :
                         {&c.path, &c.what, &c.diff, &c.error, &c.content, &c.target}) {
                        r.apply_in_place(*text);
                    }
                    for (auto& d : c.details) {
                        r.apply_in_place(d);
                    }
                    for (auto& a : c.argv) {
                        r.apply_in_place(a);
                    }
                }
                for (auto& u : h.plan->plan->unmanaged) {
                    r.apply_in_place(u);
                }
            }
        }
        if (h.report) {
            for (auto& res : h.report->results) {
                r.apply_in_place(res.error);
                r.apply_in_place(res.output);
            }
        }
        if (h.remote) {
            auto& remote = *h.remote;
            if (remote) {
                r.apply_in_place(remote->out);
                r.apply_in_place(remote->err);
            } else {
                remote = fail(remote.error().code(), r.apply(remote.error().message()));
            }
        }
    }
}

void StateService::run_local(StateMode mode, HostOutcome& h, const StateRequest& request,
                             const StateRunOptions& options) {
    StateRequest req = request;
    req.params = h.params;
    h.plan = plan(h.target, req);
    auto& hp = *h.plan;
    if (hp.error) {
        h.verdict = HostVerdict::failed;
        return;
    }
    const state::Plan& p = *hp.plan;
    switch (mode) {
        case StateMode::plan:
            h.verdict = p.errors ? HostVerdict::failed
                                 : (p.empty() ? HostVerdict::in_sync : HostVerdict::changed);
            return;
        case StateMode::drift:
            h.verdict =
                p.empty() && p.unmanaged.empty() ? HostVerdict::in_sync : HostVerdict::changed;
            if (options.save) {
                save_report(hp, req);
            }
            return;
        case StateMode::apply:
            break;
    }
    if (p.empty()) {
        h.verdict = HostVerdict::in_sync;
        return;
    }
    size_t done = 0;
    const size_t total = p.changes.size();
    h.report = apply(hp, req, options.sync, [&](const state::Change&, bool, const std::string&) {
        ++done;
        if (options.on_apply_progress) {
            options.on_apply_progress(h.target, done, total);
        }
    });
    h.verdict =
        h.report->failed || h.report->cancelled ? HostVerdict::failed : HostVerdict::changed;
}

void StateService::run_remotes(StateMode mode, std::vector<HostOutcome*>& hosts,
                               const StateRequest& request, const StateRunOptions& options) {
    if (hosts.empty()) {
        return;
    }
    const std::string name = mode_name(mode);
    std::vector<std::string> reports(hosts.size());  // drift --save documents
    Tally tally(name, hosts.size(), options.progress);
    os::fan_out(hosts.size(), m_fleet->forks(hosts.size()), [&](size_t i) {
        tally.started();
        HostOutcome& h = *hosts[i];
        StateRequest req = request;
        req.params = h.params;
        h.remote = run_remote(h.target, name, req, {}, options.json);
        const auto& r = *h.remote;
        // A drifted host (exit 1) is described all the more; the report is made there.
        bool described = r && (r->code == 0 || r->code == 1);
        if (described && mode == StateMode::drift && options.save && m_store) {
            auto rep = run_remote(h.target, "drift", req, {"--host-report"}, false);
            if (rep && rep->code == 0) {
                reports[i] = std::move(rep->out);
            }
        }
        tally.finished(r && r->code == 0);
    });
    for (size_t i = 0; i < hosts.size(); ++i) {
        HostOutcome& h = *hosts[i];
        const auto& r = *h.remote;
        if (!r || r->code > 1 || (r->code == 1 && mode != StateMode::drift)) {
            h.verdict = HostVerdict::failed;
        } else {
            h.verdict = r->code == 1 ? HostVerdict::changed : HostVerdict::in_sync;
        }
        // Stored here, from this thread, like a local drift --save.
        if (!reports[i].empty()) {
            m_redactor.apply_in_place(reports[i]);
            store::FactsSnapshot snap{0, h.target.host.name, now_ms(), content_hash(reports[i]),
                                      reports[i]};
            (void)m_store->save_host_state(snap);
        }
    }
}

}  // namespace shipshape::app
