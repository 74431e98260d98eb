// shipshape plan / apply / drift: desired state on hosts (src/state, app/state_service).
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/state_service.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

namespace {

struct StateOptions {
    std::vector<std::string> hosts;
    std::vector<std::string> states;
    std::vector<std::string> sets;
    std::string root;
    std::string sync = "batch";
    bool no_diff = false;
    bool strict = false;
    bool save = false;
    bool all = false;
    std::string env;
    std::string against;
    std::string as_host;  // the agent's side: plan for this host (JSON), see StateRequest::self
    bool host_report = false;
    int forks = 0;
};

enum class Mode { plan, apply, drift };

std::string paint(const Context& ctx, const char* code, const std::string& text) {
    return ctx.color ? fmt::format("\033[{}m{}\033[0m", code, text) : text;
}

const char* sign_of(state::Action a) {
    switch (a) {
        case state::Action::create:
            return "+";
        case state::Action::change:
            return "~";
        case state::Action::remove:
            return "-";
        case state::Action::run:
            return ">";
    }
    return "?";
}

const char* color_of(state::Action a) {
    switch (a) {
        case state::Action::create:
            return "32";
        case state::Action::change:
            return "33";
        case state::Action::remove:
            return "31";
        case state::Action::run:
            return "36";
    }
    return "0";
}

std::string change_line(const Context& ctx, const state::Change& c) {
    std::string details;
    for (const auto& d : c.details) {
        details += (details.empty() ? "" : ", ") + d;
    }
    if (!c.error.empty()) {
        return paint(ctx, "1;31", "! " + c.what + " " + c.path) + "  " + c.error;
    }
    std::string out = paint(ctx, color_of(c.action),
                            std::string(sign_of(c.action)) + " " + c.what + " " + c.path);
    if (!details.empty()) {
        out += "  (" + details + ")";
    }
    return out;
}

void print_diff(const Context& ctx, const std::string& diff) {
    size_t pos = 0;
    while (pos < diff.size()) {
        size_t nl = diff.find('\n', pos);
        std::string line = diff.substr(pos, nl == std::string::npos ? nl : nl - pos);
        pos = nl == std::string::npos ? diff.size() : nl + 1;
        const char* code = "0";
        if (line.rfind("+++", 0) == 0 || line.rfind("---", 0) == 0) {
            code = "1";
        } else if (!line.empty() && line[0] == '+') {
            code = "32";
        } else if (!line.empty() && line[0] == '-') {
            code = "31";
        } else if (line.rfind("@@", 0) == 0) {
            code = "36";
        }
        std::printf("      %s\n", paint(ctx, code, line).c_str());
    }
}

void print_header(const app::HostPlan& hp) {
    std::string roles;
    for (const auto& r : hp.target.roles) {
        roles += (roles.empty() ? "" : ", ") + r;
    }
    std::string states;
    for (const auto& s : hp.target.state_files) {
        states += (states.empty() ? "" : ", ") + s;
    }
    std::printf("%s%s  states: %s\n", hp.target.host.name.c_str(),
                roles.empty() ? "" : ("  roles: " + roles).c_str(), states.c_str());
}

// Prints the plan's changes; a tree's entries beyond a few are summarized unless --all.
void print_changes(const Context& ctx, const app::HostPlan& hp, bool diffs, bool all,
                   const state::ApplyReport* report) {
    const auto& plan = *hp.plan;
    std::map<size_t, size_t> shown_per_resource;
    std::map<size_t, size_t> hidden_per_resource;
    for (size_t i = 0; i < plan.changes.size(); ++i) {
        const auto& c = plan.changes[i];
        const auto& r = hp.state->resources[c.resource];
        if (!all && r.kind == state::Kind::tree && shown_per_resource[c.resource] >= 10 &&
            c.error.empty() && (!report || report->results[i].ok)) {
            ++hidden_per_resource[c.resource];
            continue;
        }
        ++shown_per_resource[c.resource];
        std::string line = "  " + change_line(ctx, c);
        if (report) {
            const auto& res = report->results[i];
            if (!res.ok && c.error.empty()) {
                line += "  " + paint(ctx, "1;31", "FAILED: " + res.error);
            }
        }
        std::printf("%s\n", line.c_str());
        if (diffs && !c.diff.empty()) {
            print_diff(ctx, c.diff);
        }
        if (report && !report->results[i].ok && !report->results[i].output.empty()) {
            print_diff(ctx, report->results[i].output);
        }
    }
    for (const auto& [index, n] : hidden_per_resource) {
        std::printf("  ... and %zu more in tree %s (--all shows every entry)\n", n,
                    hp.state->resources[index].path.c_str());
    }
}

Result<app::StateRequest> make_request(const Context& ctx, const StateOptions& o, Mode mode) {
    app::StateRequest req;
    req.patterns = o.hosts;
    req.state_files = o.states;
    req.diffs = !o.no_diff && mode != Mode::apply;
    req.strict = o.strict;
    for (const auto& kv : o.sets) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            return fail(Errc::invalid_argument, "--set '" + kv + "': expected NAME=VALUE");
        }
        req.params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!o.as_host.empty()) {
        auto j = nlohmann::json::parse(o.as_host, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            return fail(Errc::invalid_argument, "--as-host: expected a JSON object");
        }
        app::SelectedHost self;
        self.name = j.value("name", "localhost");
        self.address = j.value("address", self.name);
        self.env = j.value("env", "");
        self.tags = j.value("tags", std::map<std::string, std::string>{});
        self.local = true;
        req.self = std::move(self);
        req.self_roles = j.value("roles", std::vector<std::string>{});
    }
    if (!o.root.empty()) {
        req.root = os::path_absolute(o.root, ctx.cwd);
        struct stat st {};
        if (::stat(req.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            return fail(Errc::invalid_argument, "--root " + o.root + ": not a directory");
        }
        while (req.root.size() > 1 && req.root.back() == '/') {
            req.root.pop_back();
        }
    }
    return req;
}

// One apply at a time per ops repo: the hash cache and the files are shared.
Result<int> lock_apply(const app::Project& project) {
    std::string dir = project.state_dir();
    ::mkdir(dir.c_str(), 0755);
    std::string path = dir + "/apply.lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fail(os::errno_error("opening " + path, errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {};
        ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        ::close(fd);
        std::string holder(buf, n > 0 ? static_cast<size_t>(n) : 0);
        holder.erase(holder.find_last_not_of(' ') + 1);
        return fail(Errc::conflict, "another apply is running in this ops repo (pid " + holder +
                                        "); wait for it to finish");
    }
    // A fixed-width record, so no truncation (a metadata write that can wait on the journal).
    std::string pid = std::to_string(::getpid());
    pid.resize(12, ' ');
    (void)::pwrite(fd, pid.data(), pid.size(), 0);
    return fd;  // released when the process exits
}

int run_state(Context& ctx, const StateOptions& o, Mode mode) {
    auto req = make_request(ctx, o, mode);
    if (!req) {
        return report_error(ctx, req.error());
    }
    bool need_store = mode == Mode::drift && o.save;
    auto repo = open_repo(ctx, need_store ? NeedStore::yes : NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    state::SyncMode sync = state::SyncMode::batch;
    if (o.sync == "fsync") {
        sync = state::SyncMode::fsync;
    } else if (o.sync == "none") {
        sync = state::SyncMode::none;
    } else if (o.sync != "batch") {
        return report_error(ctx, Error(Errc::invalid_argument,
                                       "--sync " + o.sync + ": expected batch, fsync or none"));
    }
    app::StateService service(repo->project, repo->store.get(), repo->runner.get(), ctx.cancel);
    auto all_targets = service.targets(*req);
    if (!all_targets) {
        return report_error(ctx, all_targets.error());
    }
    if (o.host_report) {
        if (all_targets->size() != 1) {
            return report_error(ctx, Error(Errc::invalid_argument,
                                           "--host-report describes one host (the agent's)"));
        }
        auto hp = service.plan(all_targets->front(), *req);
        if (hp.error) {
            return report_error(ctx, *hp.error);
        }
        std::printf("%s\n", service.report_document(hp, *req).c_str());
        return 0;
    }
    // One apply at a time from this repo, remote hosts included.
    int lock_fd = -1;
    if (mode == Mode::apply) {
        auto fd = lock_apply(repo->project);
        if (!fd) {
            return report_error(ctx, fd.error());
        }
        lock_fd = *fd;
    }
    std::vector<app::HostTarget> remote_targets;
    std::vector<app::HostTarget> local_targets;
    for (auto& t : *all_targets) {
        (t.host.local ? local_targets : remote_targets).push_back(std::move(t));
    }
    const char* mode_name = mode == Mode::plan ? "plan" : mode == Mode::apply ? "apply" : "drift";
    std::vector<std::optional<Result<app::RemoteResult>>> remote(remote_targets.size());
    std::vector<std::string> reports_made(remote_targets.size());  // drift --save documents
    std::unique_ptr<app::FleetService> fleet;
    if (!remote_targets.empty()) {
        auto f = open_fleet(ctx, repo->project, o.forks);
        if (!f) {
            return report_error(ctx, f.error());
        }
        fleet = std::move(*f);
        service.use_fleet(fleet.get());
        std::vector<std::string> extra;
        if (o.no_diff) {
            extra.emplace_back("--no-diff");
        }
        if (o.all) {
            extra.emplace_back("--all");
        }
        if (o.strict) {
            extra.emplace_back("--strict");
        }
        if (mode == Mode::apply) {
            extra.insert(extra.end(), {"--sync", o.sync});
        }
        if (!o.root.empty()) {
            extra.insert(extra.end(), {"--root", o.root});
        }
        app::Tally tally(mode_name, remote_targets.size(), fanout_progress(ctx));
        fleet::fan_out(remote_targets.size(), fleet->forks(remote_targets.size()), [&](size_t i) {
            tally.started();
            remote[i] = service.run_remote(remote_targets[i], mode_name, *req, extra, ctx.json);
            bool ok = *remote[i] && (*remote[i])->code == 0;
            // A drifted host (exit 1) is described all the more; the report is made there.
            bool described = *remote[i] && ((*remote[i])->code == 0 || (*remote[i])->code == 1);
            if (described && mode == Mode::drift && o.save && repo->store) {
                auto rep =
                    service.run_remote(remote_targets[i], "drift", *req, {"--host-report"}, false);
                if (rep && rep->code == 0) {
                    reports_made[i] = std::move(rep->out);
                }
            }
            tally.finished(ok);
        });
        // Stored here, from this thread, like a local drift --save.
        for (size_t i = 0; i < reports_made.size(); ++i) {
            if (!reports_made[i].empty()) {
                store::FactsSnapshot snap{0, remote_targets[i].host.name, app::now_ms(),
                                          app::content_hash(reports_made[i]), reports_made[i]};
                (void)repo->store->save_host_state(snap);
            }
        }
    }
    auto start = std::chrono::steady_clock::now();
    std::vector<app::HostPlan> plans;
    std::vector<std::optional<state::ApplyReport>> reports;
    int exit_code = 0;
    auto worst = [&](int code) { exit_code = std::max(exit_code, code); };
    for (const auto& t : local_targets) {
        plans.push_back(service.plan(t, *req));
        auto& hp = plans.back();
        reports.emplace_back();
        if (hp.error) {
            worst(to_int(exit_code_for(hp.error->code())));
            if (!ctx.json) {
                std::fprintf(stderr, "%s: %s\n", t.host.name.c_str(), hp.error->message().c_str());
            }
            continue;
        }
        if (mode == Mode::apply && !hp.plan->empty()) {
            size_t total = hp.plan->changes.size();
            size_t done = 0;
            bool progress = ctx.tty && !ctx.json && total >= 200;
            auto on_done = [&](const state::Change&, bool, const std::string&) {
                ++done;
                if (progress && (done % 100 == 0 || done == total)) {
                    std::fprintf(stderr, "\r  applying %zu/%zu", done, total);
                    if (done == total) {
                        std::fputs("\n", stderr);
                    }
                }
            };
            reports.back() = service.apply(hp, *req, sync, on_done);
            if (reports.back()->failed || reports.back()->cancelled) {
                worst(reports.back()->cancelled ? to_int(ExitCode::interrupted)
                                                : to_int(ExitCode::failed));
            }
        } else if (mode == Mode::drift) {
            if (!hp.plan->empty() || !hp.plan->unmanaged.empty()) {
                worst(to_int(ExitCode::failed));
            }
            if (o.save) {
                service.save_report(hp, *req);
            }
        } else if (hp.plan->errors && mode == Mode::plan) {
            worst(to_int(ExitCode::failed));
        }
    }
    service.save_cache();  // apply saved it already when it changed files; this is a no-op then
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    // Remote hosts answered with the same output a local run prints; errors reaching them
    // are reported per host.
    for (size_t i = 0; i < remote.size(); ++i) {
        const auto& r = *remote[i];
        worst(r ? r->code : to_int(exit_code_for(r.error().code())));
    }
    if (ctx.json) {
        auto doc = nlohmann::json::parse(json_state(mode_name, plans, reports, exit_code));
        for (size_t i = 0; i < remote.size(); ++i) {
            const auto& r = *remote[i];
            const auto& t = remote_targets[i];
            nlohmann::json host = {{"host", t.host.name},
                                   {"env", t.host.env},
                                   {"roles", t.roles},
                                   {"states", t.state_files}};
            if (!r) {
                host["error"] = {{"code", errc_name(r.error().code())},
                                 {"message", r.error().message()}};
                doc["hosts"].push_back(std::move(host));
                continue;
            }
            auto theirs = nlohmann::json::parse(r->out, nullptr, false);
            if (theirs.is_discarded() || !theirs.contains("hosts")) {
                if (!theirs.is_discarded() && theirs.contains("error")) {
                    host["error"] = theirs["error"];
                } else {
                    host["error"] = {{"code", "io"},
                                     {"message", "the agent answered no plan: " + r->err}};
                }
                doc["hosts"].push_back(std::move(host));
                continue;
            }
            for (auto& h : theirs["hosts"]) {
                doc["hosts"].push_back(std::move(h));
            }
        }
        doc["exit_code"] = exit_code;
        std::printf("%s\n",
                    doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return exit_code;
    }
    auto print_remote = [&] {
        for (size_t i = 0; i < remote.size(); ++i) {
            const auto& r = *remote[i];
            if (!r) {
                std::fprintf(stderr, "%s: %s\n", remote_targets[i].host.name.c_str(),
                             r.error().message().c_str());
                continue;
            }
            std::fputs(r->out.c_str(), stdout);
            std::fputs(r->err.c_str(), stderr);
        }
    };
    for (size_t h = 0; h < plans.size(); ++h) {
        const auto& hp = plans[h];
        if (hp.error) {
            continue;
        }
        const auto& plan = *hp.plan;
        const state::ApplyReport* report = reports[h] ? &*reports[h] : nullptr;
        print_header(hp);
        if (plan.empty() && plan.unmanaged.empty()) {
            std::printf("  %s\n",
                        paint(ctx, "32",
                              fmt::format("no changes: matches its declared state ({} resources)",
                                          plan.resources))
                            .c_str());
            continue;
        }
        print_changes(ctx, hp, req->diffs, o.all, report);
        for (const auto& u : plan.unmanaged) {
            std::printf("  %s\n", paint(ctx, "35", "? unmanaged " + u).c_str());
        }
        if (mode == Mode::plan) {
            std::printf("\nPlan: %s.\n", plan.summary().c_str());
        } else if (mode == Mode::drift) {
            std::string what = plan.empty() ? "" : plan.summary();
            if (!plan.unmanaged.empty()) {
                what += (what.empty() ? "" : "; ") + std::to_string(plan.unmanaged.size()) +
                        " unmanaged";
            }
            std::printf("\nDrift: %s.\n", what.c_str());
        } else if (report) {
            std::printf("\nApplied %zu of %zu changes in %lld ms", report->applied,
                        plan.changes.size(), static_cast<long long>(ms));
            if (report->failed) {
                std::printf("; %s",
                            paint(ctx, "1;31", fmt::format("{} failed", report->failed)).c_str());
            }
            std::printf(".\n");
            for (size_t i = 0; i < plan.changes.size(); ++i) {
                if (!report->results[i].ok) {
                    std::fprintf(stderr, "failed: %s %s: %s\n", plan.changes[i].what.c_str(),
                                 plan.changes[i].path.c_str(), report->results[i].error.c_str());
                }
            }
        }
    }
    print_remote();
    if (lock_fd >= 0) {
        ::close(lock_fd);
    }
    return exit_code;
}

int run_env_drift(Context& ctx, const StateOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto req = make_request(ctx, o, Mode::drift);
    if (!req) {
        return report_error(ctx, req.error());
    }
    app::StateService service(repo->project, repo->store.get(), repo->runner.get(), ctx.cancel);
    auto fleet = open_fleet(ctx, repo->project, o.forks);
    if (!fleet) {
        return report_error(ctx, fleet.error());
    }
    service.use_fleet(fleet->get());
    auto cmp = service.compare_envs(o.env, o.against, req->params);
    if (!cmp) {
        return report_error(ctx, cmp.error());
    }
    int exit_code = cmp->difference_count() ? to_int(ExitCode::failed) : 0;
    if (ctx.json) {
        std::printf("%s\n", json_env_drift(*cmp, exit_code).c_str());
        return exit_code;
    }
    auto side_text = [](const state::SideValue& v) {
        if (v.value) {
            return v.value->empty() ? std::string("(empty)") : *v.value;
        }
        std::string out;
        for (const auto& [host, value] : v.by_host) {
            out += (out.empty() ? "" : "; ") + value + " (" + host + ")";
        }
        return out;
    };
    for (const auto& r : cmp->roles) {
        std::string lh;
        for (const auto& h : r.left_hosts) {
            lh += (lh.empty() ? "" : ", ") + h;
        }
        std::string rh;
        for (const auto& h : r.right_hosts) {
            rh += (rh.empty() ? "" : ", ") + h;
        }
        std::printf("roles %s: %s (%s) vs %s (%s)\n", r.roles.c_str(), o.env.c_str(), lh.c_str(),
                    o.against.c_str(), rh.c_str());
        if (r.differences.empty()) {
            std::printf("  %s\n", paint(ctx, "32", "no differences").c_str());
        }
        for (const auto& d : r.differences) {
            std::printf("  %s\n", paint(ctx, "33", "~ " + d.subject).c_str());
            std::printf("      %-10s %s\n", o.env.c_str(), side_text(d.left).c_str());
            std::printf("      %-10s %s\n", o.against.c_str(), side_text(d.right).c_str());
        }
    }
    for (const auto& n : cmp->notes) {
        std::printf("note: %s\n", n.c_str());
    }
    std::printf("\n%zu differences between %s and %s.\n", cmp->difference_count(), o.env.c_str(),
                o.against.c_str());
    return exit_code;
}

CLI::App* add_common(CLI::App& app, const std::shared_ptr<StateOptions>& opts, const char* name,
                     const char* help) {
    auto* sub = app.add_subcommand(name, help);
    sub->add_option("HOSTS", opts->hosts,
                    "host patterns: NAME, web*, group:NAME, env:NAME (default: this machine)");
    // One value per flag, so that HOSTS after them stay hosts.
    sub->add_option("--state", opts->states,
                    "use this state file (repo-relative, repeatable) instead of the hosts' roles")
        ->allow_extra_args(false);
    sub->add_option("--root", opts->root,
                    "treat DIR as the file system root (image builds, tests)");
    sub->add_option("--set,-s", opts->sets, "template variable NAME=VALUE (repeatable)")
        ->allow_extra_args(false);
    sub->add_flag("--all", opts->all, "list every entry of trees, not the first ten");
    sub->add_option("--forks", opts->forks, "remote hosts at once (default: all, up to 64)")
        ->check(CLI::Range(1, 1000));
    // The agent's side of a remote run: not for people.
    sub->add_option("--as-host", opts->as_host)->group("");
    return sub;
}

}  // namespace

void add_state_commands(CLI::App& app, std::vector<Command>& out) {
    auto plan_opts = std::make_shared<StateOptions>();
    auto* plan = add_common(app, plan_opts, "plan",
                            "Show what apply would change on hosts, as a diff; changes nothing");
    plan->add_flag("--no-diff", plan_opts->no_diff, "do not show file content diffs");
    out.push_back(
        {plan, [plan_opts](Context& ctx) { return run_state(ctx, *plan_opts, Mode::plan); }});

    auto apply_opts = std::make_shared<StateOptions>();
    auto* apply = add_common(app, apply_opts, "apply",
                             "Converge hosts to their declared state; exit 1 if anything failed");
    apply->add_option("--sync", apply_opts->sync,
                      "durability: batch (one syncfs, default), fsync (per file) or none");
    out.push_back(
        {apply, [apply_opts](Context& ctx) { return run_state(ctx, *apply_opts, Mode::apply); }});

    auto drift_opts = std::make_shared<StateOptions>();
    auto* drift = add_common(
        app, drift_opts, "drift",
        "Exit 1 when hosts differ from their declared state; --env A --against B compares two "
        "environments");
    drift->add_flag("--strict", drift_opts->strict,
                    "also report unmanaged entries in managed directories and trees");
    drift->add_flag("--no-diff", drift_opts->no_diff, "do not show file content diffs");
    drift->add_flag("--save", drift_opts->save,
                    "save each host's state report in the store (for later comparisons)");
    drift->add_flag("--host-report", drift_opts->host_report)->group("");
    drift->add_option("--env", drift_opts->env, "compare this environment ...");
    drift->add_option("--against", drift_opts->against, "... with this one");
    out.push_back(
        {drift, [drift_opts](Context& ctx) {
             if (!drift_opts->env.empty() || !drift_opts->against.empty()) {
                 if (!drift_opts->root.empty() || !drift_opts->states.empty() ||
                     drift_opts->strict || drift_opts->save || !drift_opts->hosts.empty()) {
                     return report_error(ctx, Error(Errc::invalid_argument,
                                                    "--env/--against compares environments' hosts "
                                                    "as assigned: HOSTS, --state, --root, --strict "
                                                    "and --save do not apply"));
                 }
                 if (drift_opts->env.empty() || drift_opts->against.empty()) {
                     return report_error(ctx, Error(Errc::invalid_argument,
                                                    "--env and --against go together: drift --env "
                                                    "staging --against prod"));
                 }
                 return run_env_drift(ctx, *drift_opts);
             }
             return run_state(ctx, *drift_opts, Mode::drift);
         }});
}

}  // namespace shipshape::cli
