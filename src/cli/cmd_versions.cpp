// shipshape versions [PACKAGE] [HOSTS]: which version of each package runs on each host and
// environment, from saved facts (or --live ones); the newest per environment and the hosts that
// lag behind it.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "app/versions.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"

namespace shipshape::cli {

namespace {

struct VersionsOptions {
    std::string package;
    std::vector<std::string> hosts;
    bool live = false;
    int forks = 0;
};

// `text` padded to `width` columns, then coloured (so colour codes do not break the columns).
std::string cell(const Context& ctx, const char* colour, const std::string& text, size_t width) {
    std::string padded = text;
    if (padded.size() < width) {
        padded.append(width - padded.size(), ' ');
    }
    return ctx.color && colour ? fmt::format("\033[{}m{}\033[0m", colour, padded) : padded;
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        out += (out.empty() ? "" : ", ") + n;
    }
    return out;
}

// What a host's row says after its version, and the colour of the row's version.
std::pair<std::string, const char*> status_of(const app::EnvVersions& env,
                                              const app::HostVersion& h) {
    if (!h.error.empty()) {
        return {"unknown: " + h.error, "2"};
    }
    if (h.lags) {
        return {"lags (newest " + env.newest + ")", "1;31"};
    }
    if (h.missing) {
        return {"not installed (newest " + env.newest + ")", "1;31"};
    }
    if (h.newest) {
        return {"newest", "1;32"};
    }
    return {"not installed", "2"};
}

std::string facts_of(const app::HostVersion& h) {
    if (h.source == "live") {
        return "live";
    }
    if (h.snapshot_id == 0) {
        return "-";
    }
    return "@" + std::to_string(h.snapshot_id) + " " + format_local_time(h.at_ms);
}

void print_report(const Context& ctx, const app::VersionsReport& report) {
    size_t env_w = 3;
    size_t host_w = 4;
    size_t version_w = 7;
    size_t facts_w = 5;
    for (const auto& p : report.packages) {
        for (const auto& e : p.envs) {
            env_w = std::max(env_w, e.env.size());
            for (const auto& h : e.hosts) {
                host_w = std::max(host_w, h.host.size());
                version_w = std::max(version_w, h.version.size());
                facts_w = std::max(facts_w, facts_of(h).size());
            }
        }
    }
    bool first = true;
    for (const auto& p : report.packages) {
        std::printf("%s%s\n", first ? "" : "\n", cell(ctx, "1", p.name, 0).c_str());
        first = false;
        std::printf("  %s  %s  %s  %s  %s\n", cell(ctx, nullptr, "ENV", env_w).c_str(),
                    cell(ctx, nullptr, "HOST", host_w).c_str(),
                    cell(ctx, nullptr, "VERSION", version_w).c_str(),
                    cell(ctx, nullptr, "FACTS", facts_w).c_str(), "STATUS");
        for (const auto& e : p.envs) {
            for (const auto& h : e.hosts) {
                auto [status, colour] = status_of(e, h);
                std::string version = !h.error.empty() ? "?" : h.version.empty() ? "-" : h.version;
                // The marker column a reader without colours scans for: '<' lags or misses it.
                std::printf("%s %s  %s  %s  %s  %s\n", h.lags || h.missing ? "<" : " ",
                            cell(ctx, nullptr, e.env.empty() ? "-" : e.env, env_w).c_str(),
                            cell(ctx, nullptr, h.host, host_w).c_str(),
                            cell(ctx, colour, version, version_w).c_str(),
                            cell(ctx, nullptr, facts_of(h), facts_w).c_str(), status.c_str());
            }
        }
        std::vector<std::string> unknown;
        for (const auto& e : p.envs) {
            for (const auto& h : e.hosts) {
                if (!h.error.empty()) {
                    unknown.push_back(h.host);
                }
            }
        }
        std::string summary = p.name + ": ";
        if (p.lagging.empty() && p.missing.empty() && unknown.empty()) {
            summary += "every environment's hosts agree";
        } else {
            std::vector<std::string> parts;
            if (!p.lagging.empty()) {
                parts.push_back(plural(p.lagging.size(), "host lags", "hosts lag") + " (" +
                                join(p.lagging) + ")");
            }
            if (!p.missing.empty()) {
                parts.push_back(plural(p.missing.size(), "host misses it", "hosts miss it") + " (" +
                                join(p.missing) + ")");
            }
            if (!unknown.empty()) {
                parts.push_back("unknown on " + plural(unknown.size(), "host", "hosts") + " (" +
                                join(unknown) + ")");
            }
            summary += join(parts);
        }
        std::printf("%s\n", summary.c_str());
    }
    std::fflush(stdout);
    if (!report.hosts_without_facts.empty()) {
        std::vector<std::string> names;
        for (const auto& h : report.hosts_without_facts) {
            names.push_back(h.host);
        }
        std::fprintf(stderr, "shipshape: versions unknown on %s (%s)\n",
                     plural(names.size(), "host", "hosts").c_str(), join(names).c_str());
    }
}

int run_versions(Context& ctx, const VersionsOptions& o) {
    // Saved facts live in the ops repo's store; live ones of this machine need no repo.
    auto repo = o.live ? open_repo_or_here(ctx, NeedStore::no) : open_repo(ctx, NeedStore::yes);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::VersionsService service(repo->project, repo->store.get());
    app::VersionsRequest request{o.package, o.hosts, o.live};
    auto hosts = repo->in_repo ? service.hosts(request)
                               : app::select_hosts_or_this_machine(nullptr, o.hosts);
    if (!hosts) {
        return report_error(ctx, hosts.error());
    }
    std::unique_ptr<app::FleetService> fleet;
    if (o.live &&
        std::any_of(hosts->begin(), hosts->end(), [](const auto& h) { return !h.local; })) {
        auto f = open_fleet(ctx, repo->project, o.forks);
        if (!f) {
            return report_error(ctx, f.error());
        }
        fleet = std::move(*f);
    }
    service.use_fleet(fleet.get(), fanout_progress(ctx));
    auto report = service.run(request, *hosts);
    if (!report) {
        return report_error(ctx, report.error());
    }
    if (ctx.json) {
        std::printf("%s\n", app::versions_to_json(*report).c_str());
    } else {
        print_report(ctx, *report);
    }
    int code = report->agree() ? 0 : 1;
    for (const auto& h : report->hosts_without_facts) {
        // An unknown version is 1 (the hosts cannot be said to agree); a live gather that is not
        // supported on a host keeps its own code (3).
        if (h.code != Errc::not_found) {
            code = std::max(code, to_int(exit_code_for(h.code)));
        }
    }
    return code;
}

}  // namespace

void add_versions_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<VersionsOptions>();
    auto* sub = app.add_subcommand(
        "versions",
        "Which version of each package runs on each host and environment; exit 1 when a host "
        "lags");
    sub->add_option("PACKAGE", opts->package,
                    "package name or glob ('lib*'; quote it); default: every [[package]] the "
                    "state files of [roles] declare");
    sub->add_option("HOSTS", opts->hosts, "host patterns (default: every inventory host)");
    sub->add_flag("--live", opts->live,
                  "gather the hosts' packages now (like facts) instead of reading the facts "
                  "saved last (facts --save)");
    sub->add_option("--forks", opts->forks, "hosts at once with --live (default: all, up to 64)")
        ->check(CLI::Range(1, 1000));
    sub->footer(
        "The newest version of each environment (Debian version ordering) is marked 'newest';\n"
        "a host with an older one 'lags', a host without the package while others of its\n"
        "environment have it 'not installed (newest V)'; both get '<' in the first column.\n"
        "Exit: 0 every environment's hosts agree; 1 a host lags, misses the package or its\n"
        "packages are unknown (no saved facts, unreachable); 2 a host pattern matching\n"
        "nothing, a PACKAGE installed on no host, no PACKAGE and none declared.");
    out.push_back({sub, [opts](Context& ctx) { return run_versions(ctx, *opts); }});
}

}  // namespace shipshape::cli
