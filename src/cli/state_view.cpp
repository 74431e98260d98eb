#include "cli/state_view.hpp"

#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "cli/exit_code.hpp"
#include "cli/plan_package_view.hpp"

namespace shipshape::cli {

namespace {

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

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) {
        out += (out.empty() ? "" : ", ") + i;
    }
    return out;
}

std::string change_line(const Context& ctx, const state::Change& c) {
    if (!c.error.empty()) {
        return paint(ctx, "1;31", "! " + c.what + " " + c.path) + "  " +
               (c.unsupported ? "unsupported: " : "") + c.error;
    }
    std::string out = paint(ctx, color_of(c.action),
                            std::string(sign_of(c.action)) + " " + c.what + " " + c.path);
    if (!c.details.empty()) {
        out += "  (" + joined(c.details) + ")";
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
    std::string roles = joined(hp.target.roles);
    std::printf("%s%s  states: %s\n", hp.target.host.name.c_str(),
                roles.empty() ? "" : ("  roles: " + roles).c_str(),
                joined(hp.target.state_files).c_str());
}

// Prints the plan's changes; a tree's entries beyond a few are summarized unless `all`.
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
        if (!report) {  // a [[package]] deb: what the new version changes on the box
            std::fputs(plan_package_diff(c, r, plan.root, diffs, ctx.color).c_str(), stdout);
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

void print_local(const Context& ctx, app::StateMode mode, const app::HostOutcome& h,
                 int64_t elapsed_ms, bool diffs, bool all) {
    const auto& hp = *h.plan;
    if (hp.error) {
        std::fprintf(stderr, "%s: %s\n", h.target.host.name.c_str(), hp.error->message().c_str());
        return;
    }
    const auto& plan = *hp.plan;
    const state::ApplyReport* report = h.report ? &*h.report : nullptr;
    print_header(hp);
    if (plan.empty() && plan.unmanaged.empty()) {
        std::printf("  %s\n", paint(ctx, "32",
                                    fmt::format("no changes: matches its declared state ({})",
                                                plural(plan.resources, "resource", "resources")))
                                  .c_str());
        return;
    }
    print_changes(ctx, hp, diffs, all, report);
    for (const auto& u : plan.unmanaged) {
        std::printf("  %s\n", paint(ctx, "35", "? unmanaged " + u).c_str());
    }
    if (mode == app::StateMode::plan) {
        std::printf("\nPlan: %s.\n", plan.summary().c_str());
    } else if (mode == app::StateMode::drift) {
        std::string what = plan.empty() ? "" : plan.summary();
        if (!plan.unmanaged.empty()) {
            what +=
                (what.empty() ? "" : "; ") + std::to_string(plan.unmanaged.size()) + " unmanaged";
        }
        std::printf("\nDrift: %s.\n", what.c_str());
    } else if (report) {
        std::printf("\nApplied %zu of %s in %lld ms", report->applied,
                    plural(plan.changes.size(), "change", "changes").c_str(),
                    static_cast<long long>(elapsed_ms));
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

int host_exit_code(app::StateMode mode, const app::HostOutcome& h) {
    if (h.remote) {
        const auto& r = *h.remote;
        return r ? r->code : to_int(exit_code_for(r.error().code()));
    }
    if (!h.plan) {
        return 0;
    }
    if (h.plan->error) {
        return to_int(exit_code_for(h.plan->error->code()));
    }
    if (h.report && h.report->cancelled) {
        return to_int(ExitCode::interrupted);
    }
    // A change this host cannot make at all ([[service]] without systemd): 3, not 1.
    if (h.plan->plan && h.plan->plan->unsupported) {
        return to_int(ExitCode::unsupported);
    }
    if (h.verdict == app::HostVerdict::failed ||
        (mode == app::StateMode::drift && h.verdict == app::HostVerdict::changed)) {
        return to_int(ExitCode::failed);
    }
    return 0;
}

}  // namespace

int state_exit_code(const app::StateOutcome& outcome) {
    int code = 0;
    for (const auto& h : outcome.hosts) {
        code = std::max(code, host_exit_code(outcome.mode, h));
    }
    return code;
}

std::string state_tally(const app::StateOutcome& o) {
    const size_t total = o.hosts.size();
    if (total < 2) {
        return "";
    }
    auto named = [](const std::vector<std::string>& hosts) {
        return hosts.empty() ? std::string() : " (" + joined(hosts) + ")";
    };
    const auto changed = o.hosts_with(app::HostVerdict::changed);
    const auto failed = o.hosts_with(app::HostVerdict::failed);
    const auto in_sync = o.hosts_with(app::HostVerdict::in_sync);
    std::string out = app::mode_name(o.mode);
    std::string failed_part =
        failed.empty() ? "" : "; " + std::to_string(failed.size()) + " failed" + named(failed);
    switch (o.mode) {
        case app::StateMode::drift:
            out += fmt::format(": {} of {} drifted{}; {} in sync{}", changed.size(),
                               plural(total, "host", "hosts"), named(changed), in_sync.size(),
                               failed_part);
            break;
        case app::StateMode::plan:
            out += fmt::format(": {} of {} with changes{}; {} in sync{}", changed.size(),
                               plural(total, "host", "hosts"), named(changed), in_sync.size(),
                               failed_part);
            break;
        case app::StateMode::apply:
            out += fmt::format(": {} of {} failed{}; {} ok", failed.size(),
                               plural(total, "host", "hosts"), named(failed),
                               changed.size() + in_sync.size());
            break;
    }
    return out;
}

void print_state_outcome(const Context& ctx, const app::StateOutcome& outcome, bool diffs,
                         bool all) {
    for (const auto& h : outcome.hosts) {
        if (h.plan) {
            print_local(ctx, outcome.mode, h, outcome.elapsed_ms, diffs, all);
            continue;
        }
        if (!h.remote) {
            continue;
        }
        const auto& r = *h.remote;
        if (!r) {
            std::fprintf(stderr, "%s: %s\n", h.target.host.name.c_str(),
                         r.error().message().c_str());
            continue;
        }
        // Remote hosts answered with the same output a local run prints.
        std::fputs(r->out.c_str(), stdout);
        std::fflush(stdout);
        std::fputs(r->err.c_str(), stderr);
    }
    std::fflush(stdout);
    for (const auto& n : outcome.notes) {
        std::fprintf(stderr, "note: %s\n", n.c_str());
    }
    std::string tally = state_tally(outcome);
    if (!tally.empty()) {
        std::printf("\n%s\n", tally.c_str());
    }
}

void print_env_drift(const Context& ctx, const state::EnvComparison& cmp, const std::string& left,
                     const std::string& right) {
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
    for (const auto& r : cmp.roles) {
        std::printf("roles %s: %s (%s) vs %s (%s)\n", r.roles.c_str(), left.c_str(),
                    joined(r.left_hosts).c_str(), right.c_str(), joined(r.right_hosts).c_str());
        if (r.differences.empty()) {
            std::printf("  %s\n", paint(ctx, "32", "no differences").c_str());
        }
        for (const auto& d : r.differences) {
            std::printf("  %s\n", paint(ctx, "33", "~ " + d.subject).c_str());
            std::printf("      %-10s %s\n", left.c_str(), side_text(d.left).c_str());
            std::printf("      %-10s %s\n", right.c_str(), side_text(d.right).c_str());
        }
    }
    for (const auto& n : cmp.notes) {
        std::printf("note: %s\n", n.c_str());
    }
    std::printf("\n%s between %s and %s.\n",
                plural(cmp.difference_count(), "difference", "differences").c_str(), left.c_str(),
                right.c_str());
}

}  // namespace shipshape::cli
