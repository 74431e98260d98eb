// shipshape require check [HOSTS] and shipshape require explain.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "app/require_service.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"

namespace shipshape::cli {

namespace {

struct RequireOptions {
    std::vector<std::string> hosts;
    std::string file = "requirements.toml";
};

// Prints the check for people: one row per requirement, hosts that could not be checked, and
// a summary naming the hosts that fall short.
void print_check(const app::RequireReport& report) {
    std::printf("%-12s %-8s %-22s %-20s %-28s %s\n", "HOST", "KIND", "REQUIREMENT", "NEEDED",
                "FOUND", "");
    for (const auto& r : report.rows) {
        std::printf("%-12s %-8s %-22s %-20s %-28s %s%s\n", r.host.c_str(), r.kind.c_str(),
                    r.subject.c_str(), r.needed.c_str(), r.found.c_str(),
                    std::string(require::verdict_name(r.verdict)).c_str(),
                    r.reason.empty() ? "" : ("  " + r.reason).c_str());
    }
    std::fflush(stdout);
    for (const auto& [host, e] : report.errors) {
        std::fprintf(stderr, "shipshape: %s: %s\n", host.c_str(), e.message().c_str());
    }
    std::string summary = plural(report.rows.size(), "requirement", "requirements") +
                          " checked on " + plural(report.hosts_checked, "host", "hosts") + ": " +
                          std::to_string(report.not_met()) + " not met";
    auto short_hosts = report.hosts_not_met();
    if (!short_hosts.empty()) {
        std::string names;
        for (const auto& h : short_hosts) {
            names += (names.empty() ? "" : ", ") + h;
        }
        summary += " on " + plural(short_hosts.size(), "host", "hosts") + " (" + names + ")";
    }
    if (!report.errors.empty()) {
        std::string names;
        for (const auto& [h, e] : report.errors) {
            names += (names.empty() ? "" : ", ") + h;
        }
        summary +=
            "; " + plural(report.errors.size(), "host", "hosts") + " not checked (" + names + ")";
    }
    std::printf("%s\n", summary.c_str());
}

int run_check(Context& ctx, const RequireOptions& o) {
    // This machine needs no ops repo: a requirements file is enough.
    auto repo = open_repo_or_here(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto hosts = app::select_hosts_or_this_machine(
        repo->in_repo ? &repo->project.inventory : nullptr, o.hosts);
    if (!hosts) {
        return report_error(ctx, hosts.error());
    }
    std::unique_ptr<app::FleetService> fleet;
    if (std::any_of(hosts->begin(), hosts->end(), [](const auto& h) { return !h.local; })) {
        auto f = open_fleet(ctx, repo->project, 0);
        if (!f) {
            return report_error(ctx, f.error());
        }
        fleet = std::move(*f);
    }
    app::RequireService service(repo->project, fleet.get(), fanout_progress(ctx));
    auto req = service.load(o.file);
    if (!req) {
        return report_error(ctx, req.error());
    }
    auto report = service.check(*req, *hosts);
    if (ctx.json) {
        std::printf("%s\n", json_require_check(report.rows, report.errors, report.ok()).c_str());
    } else {
        print_check(report);
    }
    if (!report.errors.empty()) {
        int worst = 0;
        for (const auto& [h, e] : report.errors) {
            worst = std::max(worst, to_int(exit_code_for(e.code())));
        }
        return worst;
    }
    return report.ok() ? 0 : 1;
}

int run_explain(Context& ctx, const RequireOptions& o) {
    auto repo = open_repo_or_here(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto req = app::RequireService(repo->project, nullptr, {}).load(o.file);
    if (!req) {
        return report_error(ctx, req.error());
    }
    std::fputs(require::explain_requirements(*req).c_str(), stdout);
    return 0;
}

}  // namespace

void add_require_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<RequireOptions>();
    auto* sub = app.add_subcommand("require",
                                   "Operating requirements (requirements.toml) against host facts");
    sub->require_subcommand(1);
    sub->add_option("--file,-f", opts->file,
                    "requirements file, relative to the ops repo or, outside one, to the working "
                    "directory (default requirements.toml)");
    auto* check =
        sub->add_subcommand("check", "Check requirements on hosts; exit 1 when any is not met");
    check->add_option("HOSTS", opts->hosts, "host patterns (default: this machine)");
    auto* explain = sub->add_subcommand("explain", "Print the requirements as a Markdown document");
    (void)explain;
    out.push_back({sub, [opts, check](Context& ctx) {
                       return check->parsed() ? run_check(ctx, *opts) : run_explain(ctx, *opts);
                   }});
}

}  // namespace shipshape::cli
