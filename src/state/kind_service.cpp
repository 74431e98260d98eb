// [[service]]: a systemd unit enabled or disabled, running or stopped, and restarted once after
// the changes of the resources its `restart_on` names. Planning asks systemctl (is-enabled,
// is-active); apply runs systemctl enable/disable, start/stop and restart, one call per change,
// after every package and path change (the registry's order), so a restart sees them all.
//
// Only on the machine itself with systemd as init: under --root, where PID 1 is not systemd
// (a container, a namespace host), or where `systemctl is-system-running` says "offline", every
// service change is planned as an error marked `unsupported` (exit 3), never skipped silently.
#include <algorithm>

#include "core/text.hpp"
#include "os/file_system.hpp"
#include "state/kinds.hpp"

namespace shipshape::state {

namespace {

struct Query {
    int code = -1;
    std::string word;  // the first line of stdout, trimmed
    std::string error;
};

Query systemctl(const PlanContext& ctx, std::vector<std::string> argv) {
    Query q;
    os::ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.argv.insert(spec.argv.begin(), "systemctl");
    spec.timeout = Millis(60 * 1000);
    spec.errors = os::Stderr::separate;
    os::CollectSink sink;
    auto out = ctx.options.runner->run(spec, sink, ctx.options.cancel);
    if (!out) {
        q.error = out.error().message();
        return q;
    }
    q.code = out->kind == os::ExitKind::exited ? out->code : -1;
    q.word = std::string(trim(std::string_view(sink.out).substr(0, sink.out.find('\n'))));
    if (out->kind != os::ExitKind::exited) {
        q.error = "systemctl " + spec.argv[1] + ": " + os::describe(*out, spec.timeout);
    }
    return q;
}

// Why services cannot be managed on this target; "" when they can. Asked once per plan.
std::string why_unsupported(const PlanContext& ctx) {
    if (!ctx.target.is_host()) {
        return "services cannot be managed under --root " + ctx.target.root +
               ": systemctl acts on the running system";
    }
    if (!ctx.options.runner) {
        return "services need systemctl, and this plan runs no commands";
    }
    auto comm = os::read_whole_file(ctx.options.init_comm_path);
    std::string init = comm ? std::string(trim(*comm)) : std::string();
    if (init != "systemd") {
        return "this host's init (PID 1) is " + (init.empty() ? "unknown" : "\"" + init + "\"") +
               ", not systemd: services are managed through systemd only";
    }
    Query q = systemctl(ctx, {"is-system-running"});
    if (!q.error.empty()) {
        return q.error;
    }
    if (q.word == "offline" || q.word.empty()) {
        return "systemctl is-system-running says " + (q.word.empty() ? "nothing" : q.word) +
               ": systemd is not running as init here";
    }
    return {};
}

// Where systemd reads unit files: a change there needs `systemctl daemon-reload` first.
bool in_unit_dir(const std::string& path) {
    for (std::string_view dir : {"/etc/systemd/system/", "/run/systemd/system/",
                                 "/usr/lib/systemd/system/", "/lib/systemd/system/"}) {
        if (path.compare(0, dir.size(), dir) == 0) {
            return true;
        }
    }
    return false;
}

bool is_enabled_word(const std::string& w) {
    return w == "enabled" || w == "enabled-runtime" || w == "static" || w == "alias" ||
           w == "indirect" || w == "generated";
}

bool is_active_word(const std::string& w) {
    return w == "active" || w == "activating" || w == "reloading";
}

}  // namespace

void plan_service(PlanContext& ctx, size_t index, const Resource& r) {
    if (!ctx.no_systemd) {
        ctx.no_systemd = why_unsupported(ctx);
    }
    if (!ctx.no_systemd->empty()) {
        ctx.add_error(index, r.name, "service", *ctx.no_systemd);
        ctx.changes.back().unsupported = true;
        return;
    }
    // The changes of the resources restart_on names, planned before this one (services come
    // after every kind they can name).
    std::vector<std::string> triggers;
    for (const auto& c : ctx.changes) {
        const Resource& other = ctx.resources[c.resource];
        for (const auto& ref : r.restart_on) {
            if (other.answers_to(ref) &&
                std::find(triggers.begin(), triggers.end(), ref) == triggers.end()) {
                triggers.push_back(ref);
            }
        }
    }
    // One daemon-reload per plan, before the first service's change, when a unit file changes.
    bool reloaded = false;
    std::string unit_file;
    for (const auto& c : ctx.changes) {
        reloaded = reloaded || (c.op == Op::service && c.argv.size() == 2);
        if (unit_file.empty() && c.op != Op::service && in_unit_dir(c.path)) {
            unit_file = c.path;
        }
    }
    if (!reloaded && !unit_file.empty()) {
        Change& c = ctx.add(index, Action::run, Op::service, r.name, "service");
        c.details.push_back("daemon-reload: " + unit_file + " changes");
        c.argv = {"systemctl", "daemon-reload"};
    }
    Query enabled = systemctl(ctx, {"is-enabled", r.name});
    Query active = systemctl(ctx, {"is-active", r.name});
    for (const Query* q : {&enabled, &active}) {
        if (!q->error.empty()) {
            ctx.add_error(index, r.name, "service", q->error);
            return;
        }
    }
    if (enabled.word == "masked" && (r.enabled.value_or(false) || r.running.value_or(false))) {
        ctx.add_error(index, r.name, "service",
                      r.name + " is masked: unmask it first (systemctl unmask " + r.name + ")");
        return;
    }
    const bool is_enabled = is_enabled_word(enabled.word);
    const bool is_active = is_active_word(active.word);
    // A unit systemd does not know yet (installed by a package or file of this plan) is planned
    // as disabled and stopped.
    const std::string note =
        enabled.word.empty() || enabled.word == "not-found" ? "unit not loaded yet" : std::string();
    auto add = [&](Action action, const std::string& verb, std::string detail) {
        Change& c = ctx.add(index, action, Op::service, r.name, "service");
        c.details.push_back(std::move(detail));
        if (!note.empty()) {
            c.details.push_back(note);
        }
        c.argv = {"systemctl", verb, r.name};
    };
    if (r.enabled && *r.enabled != is_enabled) {
        const std::string verb = *r.enabled ? "enable" : "disable";
        add(Action::change, verb,
            enabled.word.empty() ? verb : verb + " (now " + enabled.word + ")");
    }
    bool starts = false;
    if (r.running && *r.running != is_active) {
        starts = *r.running;
        add(Action::change, *r.running ? "start" : "stop",
            *r.running ? "start (now " + active.word + ")" : "stop (now " + active.word + ")");
    }
    // Restart once, only a unit that runs and stays running; one that starts now starts after
    // the changes anyway.
    if (!triggers.empty() && is_active && !starts && r.running.value_or(true)) {
        std::string why;
        for (const auto& t : triggers) {
            why += (why.empty() ? "" : ", ") + t;
        }
        add(Action::run, "restart", "restart: " + why + " changes");
    }
}

void apply_services(ApplyContext& ctx, const std::vector<size_t>& changes) {
    for (size_t i : changes) {
        const Change& c = ctx.change(i);
        if (ctx.cancelled()) {
            ctx.stop = true;
            return;
        }
        if (!c.error.empty()) {
            ctx.done(i, false, c.error);
            continue;
        }
        if (c.argv.size() == 3 && c.argv[1] == "restart") {
            // Restart only after at least one change it waits for was really made.
            const Resource& r = ctx.resource_of(i);
            bool any = false;
            for (size_t j = 0; j < i && !any; ++j) {
                const Resource& other = ctx.resources[ctx.change(j).resource];
                for (const auto& ref : r.restart_on) {
                    any = any || (other.answers_to(ref) && ctx.report.results[j].ok);
                }
            }
            if (!any) {
                ctx.done(i, false, "not restarted: none of the changes it restarts on was applied");
                continue;
            }
        }
        if (!ctx.options.runner) {
            ctx.done(i, false, "no process runner to run systemctl");
            continue;
        }
        ctx.run_tool(i, c.argv);
    }
}

}  // namespace shipshape::state
