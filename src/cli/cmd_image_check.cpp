// shipshape image check HOSTS --against IMAGE (patch or rebuild) and shipshape image schedule
// --weekly (the systemd units of a scheduled snapshot and build).
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <climits>
#include <cstdio>

#include "app/image_check.hpp"
#include "cli/exit_code.hpp"
#include "cli/image_check_view.hpp"
#include "cli/image_cmds.hpp"
#include "image/schedule.hpp"
#include "os/self_exe.hpp"

namespace shipshape::cli {

namespace {

struct CheckOptions {
    std::vector<std::string> hosts;
    std::string against;
    bool saved = false;
    int forks = 0;
};

int run_check(Context& ctx, const CheckOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    std::unique_ptr<app::FleetService> fleet;
    if (!o.saved) {
        auto f = open_fleet(ctx, repo->project, o.forks);
        if (!f) {
            return report_error(ctx, f.error());
        }
        fleet = std::move(*f);
    }
    app::ImageCheckService service(repo->project, repo->store.get(), fleet.get(),
                                   repo->runner.get(), ctx.cancel);
    app::ImageCheckRequest req;
    req.patterns = o.hosts;
    req.against = o.against;
    req.saved = o.saved;
    auto report = service.check(req);
    if (!report) {
        return report_error(ctx, report.error());
    }
    const int code = image_check_exit_code(*report);
    if (ctx.json) {
        std::printf("%s\n", json_image_check(*report, code).c_str());
    } else {
        std::fputs(format_image_check(*report).c_str(), stdout);
        std::fflush(stdout);
        for (const auto& h : report->hosts) {
            if (h.error) {
                std::fprintf(stderr, "shipshape: %s: %s\n", h.host.c_str(),
                             h.error->message().c_str());
            }
        }
    }
    return code;
}

struct ScheduleOptions {
    bool weekly = false;
    std::string calendar;
    std::string spec = "images/prod.toml";
    std::string hosts;
    std::string unit = "shipshape-image";
};

int run_schedule(Context& ctx, const ScheduleOptions& o) {
    if (!o.weekly && o.calendar.empty()) {
        return report_error(ctx, Error(Errc::invalid_argument,
                                       "image schedule: say when, with --weekly or --calendar "
                                       "SPEC (systemd's OnCalendar=, e.g. 'Sun 03:00')"));
    }
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    image::ScheduleOptions so;
    so.unit = o.unit;
    so.calendar = o.calendar.empty() ? "weekly" : o.calendar;
    so.spec = o.spec;
    so.repo = repo->project.root;
    so.hosts = o.hosts.empty() ? "env:" + repo->project.config.default_env : o.hosts;
    so.binary = os::self_exe();
    if (so.binary.empty()) {
        so.binary = "/usr/bin/shipshape";
    }
    std::fputs(image::format_schedule(image::schedule_units(so)).c_str(), stdout);
    return 0;
}

}  // namespace

void add_image_check(CLI::App& image, std::vector<Command>& out) {
    auto opts = std::make_shared<CheckOptions>();
    auto* sub = image.add_subcommand(
        "check",
        "Patch or rebuild: each host's package delta and drift against an image, and the "
        "recommendation (thresholds: shipshape.toml [image]); exit 1 when any host needs either");
    sub->add_option("HOSTS", opts->hosts,
                    "host patterns: NAME, web*, group:NAME, env:NAME (default: this machine)");
    sub->add_option("--against", opts->against, "the image: NAME, ID or a unique ID prefix")
        ->required();
    sub->add_flag("--saved", opts->saved,
                  "use each host's newest saved facts and drift report instead of asking it");
    sub->add_option("--forks", opts->forks, "remote hosts at once (default: all, up to 64)")
        ->check(CLI::Range(1, 1000));
    out.push_back({sub, [opts](Context& ctx) { return run_check(ctx, *opts); }});
}

void add_image_schedule(CLI::App& image, std::vector<Command>& out) {
    auto opts = std::make_shared<ScheduleOptions>();
    auto* sub = image.add_subcommand(
        "schedule",
        "Print a systemd timer and service that snapshot the hosts and build the image on a "
        "schedule (install them yourself)");
    sub->add_flag("--weekly", opts->weekly, "once a week (OnCalendar=weekly)");
    sub->add_option("--calendar", opts->calendar, "another schedule: systemd's OnCalendar=");
    sub->add_option("--spec", opts->spec, "the spec file to write and build (images/prod.toml)");
    sub->add_option("--hosts", opts->hosts,
                    "host patterns to snapshot, space-separated (default: env:DEFAULT_ENV)");
    sub->add_option("--unit", opts->unit, "unit name (default shipshape-image)");
    out.push_back({sub, [opts](Context& ctx) { return run_schedule(ctx, *opts); }});
}

}  // namespace shipshape::cli
