// shipshape fleet reports: what pulling hosts reported (#20, docs/specs/pull-report.md), read
// from the store of the ops repo, or SHIPSHAPE_STORE without one. One line per host (its newest
// report), or with --host one line per report of that host, newest first.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "app/pull_reports.hpp"
#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "core/duration.hpp"
#include "core/text.hpp"

namespace shipshape::cli {

namespace {

struct ReportsOptions {
    std::string host;
    int limit = 0;  // 0: every host, or 20 of one host's reports
};

// How long ago `at` was, in the largest whole unit: 42s, 5m, 3h, 2d.
std::string age(int64_t now, int64_t at) {
    const int64_t s = std::max<int64_t>(0, (now - at) / 1000);
    if (s < 120) {
        return std::to_string(s) + "s";
    }
    if (s < int64_t{2} * 3600) {
        return std::to_string(s / 60) + "m";
    }
    if (s < int64_t{2} * 86400) {
        return std::to_string(s / 3600) + "h";
    }
    return std::to_string(s / 86400) + "d";
}

std::string line(const store::HostReportRecord& r, int64_t now) {
    const std::string commit = r.applied_commit.empty() ? "-" : r.applied_commit.substr(0, 12);
    std::string out = escape_control(r.host) + "  " + r.result + "  " + commit + "  drift " +
                      std::to_string(r.drifted) + "  " + age(now, r.received_at) + " ago";
    if (!r.error.empty()) {
        const std::string first = r.error.substr(0, r.error.find('\n'));
        out += "  " + escape_control(first.substr(0, 100));
    }
    return out + "\n";
}

// The store of the ops repo, or SHIPSHAPE_STORE without one (an empty project then).
Result<OpenRepo> open_reports_store(const Context& ctx, store::Access access) {
    if (ctx.store.empty()) {
        return open_repo(ctx);
    }
    auto opened = store::open_store(store_location(ctx, app::Project{}), access);
    if (!opened) {
        return fail(opened.error());
    }
    OpenRepo repo{app::Project{}, std::move(*opened), os::make_process_runner()};
    repo.in_repo = false;
    return repo;
}

int run_reports(Context& ctx, const ReportsOptions& o) {
    auto repo = open_reports_store(ctx, store::Access::read_only);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    store::Store* store = repo->store.get();
    if (!o.host.empty() && !app::is_host_name(o.host)) {
        return report_error(ctx, Error(Errc::invalid_argument,
                                       "--host: '" + escape_control(o.host) +
                                           "' is not a host name (1 to 253 of A-Z a-z 0-9 . _ -)"));
    }
    auto reports = o.host.empty() ? store->latest_reports()
                                  : store->host_reports(o.host, o.limit > 0 ? o.limit : 20);
    if (!reports) {
        return report_error(ctx, reports.error());
    }
    if (o.host.empty() && o.limit > 0 && reports->size() > static_cast<size_t>(o.limit)) {
        reports->resize(static_cast<size_t>(o.limit));
    }
    if (ctx.json) {
        std::printf("{\"kind\":\"fleet-reports\",\"reports\":%s}\n",
                    app::report_summaries_json(*reports).c_str());
        return 0;
    }
    if (reports->empty()) {
        std::printf(o.host.empty() ? "no host has reported yet\n" : "no reports from %s yet\n",
                    o.host.c_str());
        return 0;
    }
    const int64_t now = app::now_ms();
    for (const auto& r : *reports) {
        std::printf("%s", line(r, now).c_str());
    }
    return 0;
}

// fleet prune-reports: retention. Keeps each host's newest report whatever its age.
int run_prune(Context& ctx, const std::string& older_than) {
    auto age = parse_duration(older_than);
    if (!age || age->count() <= 0) {
        return report_error(
            ctx, Error(Errc::invalid_argument,
                       "--older-than '" + older_than + "': expected a duration like 7d, 12h, 30m"));
    }
    auto repo = open_reports_store(ctx, store::Access::read_write);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    // A shared store: only an admin prunes what every host reported.
    auto who = authenticated_user(ctx, *repo);
    if (!who) {
        return report_error(ctx, who.error());
    }
    if (*who && !(*who)->has_role("admin")) {
        return report_error(
            ctx, Error(Errc::permission_denied, "pruning pull reports needs role admin, which " +
                                                    (*who)->user + " does not hold"));
    }
    auto removed = repo->store->prune_reports(app::now_ms() - age->count());
    if (!removed) {
        return report_error(ctx, removed.error());
    }
    if (ctx.json) {
        std::printf("{\"kind\":\"fleet-reports-pruned\",\"removed\":%lld}\n",
                    static_cast<long long>(*removed));
    } else {
        std::printf("fleet: removed %lld pull report%s older than %s (each host's newest kept)\n",
                    static_cast<long long>(*removed), *removed == 1 ? "" : "s", older_than.c_str());
    }
    return 0;
}

}  // namespace

void add_fleet_reports_command(CLI::App& fleet_cmd, std::vector<Command>& out) {
    auto opts = std::make_shared<ReportsOptions>();
    auto* reports = fleet_cmd.add_subcommand(
        "reports",
        "What pulling hosts reported: each host's newest report (host, result, applied commit, "
        "drift count, age), or one host's reports with --host");
    reports->add_option("--host", opts->host, "one host's reports, newest first");
    reports->add_option("--limit", opts->limit, "at most N lines (--host: 20 by default)")
        ->check(CLI::Range(1, 100000));
    out.push_back({reports, [opts](Context& ctx) { return run_reports(ctx, *opts); }});

    auto older_than = std::make_shared<std::string>("30d");
    auto* prune = fleet_cmd.add_subcommand(
        "prune-reports",
        "Delete pull reports older than --older-than (each host's newest is kept): at 10,000 "
        "hosts every 5 minutes they grow ~1.8 GiB a day");
    prune->add_option("--older-than", *older_than, "age (default 30d)");
    out.push_back({prune, [older_than](Context& ctx) { return run_prune(ctx, *older_than); }});
}

}  // namespace shipshape::cli
