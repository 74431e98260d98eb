// shipshape require check [HOSTS] and shipshape require explain.
#include <sys/stat.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "app/facts_service.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"

namespace shipshape::cli {

namespace {

struct RequireOptions {
    std::vector<std::string> hosts;
    std::string file = "requirements.toml";
};

// The ops repo (no store: checks only read facts) and its requirements file.
Result<std::pair<OpenRepo, require::Requirements>> open_requirements(const Context& ctx,
                                                                     const std::string& file) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return fail(repo.error());
    }
    auto req = app::FactsService(repo->project, nullptr).load_requirements(file);
    if (!req) {
        return fail(req.error());
    }
    return std::pair{std::move(*repo), std::move(*req)};
}

int run_check(Context& ctx, const RequireOptions& o) {
    auto opened = open_requirements(ctx, o.file);
    if (!opened) {
        return report_error(ctx, opened.error());
    }
    auto& [repo, req] = *opened;
    app::FactsService service(repo.project, nullptr);
    auto hosts = app::select_hosts(
        repo.project.inventory, o.hosts.empty() ? std::vector<std::string>{"localhost"} : o.hosts);
    if (!hosts) {
        return report_error(ctx, hosts.error());
    }
    auto fleet = open_fleet(ctx, repo.project, 0);
    if (!fleet) {
        return report_error(ctx, fleet.error());
    }
    service.use_fleet(fleet->get(), fanout_progress(ctx));
    auto results = service.gather(*hosts, {}, false);
    std::vector<require::CheckRow> rows;
    std::vector<std::pair<std::string, Error>> errors;
    // Paths are probed here for this machine and by `test -e` through the agent elsewhere.
    require::PathProbe local_probe = [](const std::string& path) -> std::optional<bool> {
        struct stat st;
        return ::stat(path.c_str(), &st) == 0;
    };
    auto remote_probe = [&](const app::SelectedHost& host) -> require::PathProbe {
        return [&, host](const std::string& path) -> std::optional<bool> {
            app::RemoteExec probe;
            probe.argv = {"test", "-e", path};
            auto found = (*fleet)->exec(host, probe, {});
            if (!found || found->kind != os::ExitKind::exited) {
                return std::nullopt;
            }
            return found->code == 0;
        };
    };
    for (const auto& r : results) {
        if (r.error) {
            errors.emplace_back(r.host.name, *r.error);
            continue;
        }
        auto host_rows = require::check_requirements(
            req, *r.facts, r.host.local ? local_probe : remote_probe(r.host));
        rows.insert(rows.end(), host_rows.begin(), host_rows.end());
    }
    bool ok = errors.empty() && std::all_of(rows.begin(), rows.end(), [](const auto& r) {
                  return r.verdict == require::Verdict::ok;
              });
    if (ctx.json) {
        std::printf("%s\n", json_require_check(rows, errors, ok).c_str());
    } else {
        std::printf("%-12s %-8s %-22s %-20s %-28s %s\n", "HOST", "KIND", "REQUIREMENT", "NEEDED",
                    "FOUND", "");
        for (const auto& r : rows) {
            std::printf("%-12s %-8s %-22s %-20s %-28s %s%s\n", r.host.c_str(), r.kind.c_str(),
                        r.subject.c_str(), r.needed.c_str(), r.found.c_str(),
                        std::string(require::verdict_name(r.verdict)).c_str(),
                        r.reason.empty() ? "" : ("  " + r.reason).c_str());
        }
        for (const auto& [host, e] : errors) {
            std::fprintf(stderr, "shipshape: %s: %s\n", host.c_str(), e.message().c_str());
        }
        size_t failed = std::count_if(rows.begin(), rows.end(), [](const auto& r) {
            return r.verdict != require::Verdict::ok;
        });
        std::printf("%zu requirements checked on %zu hosts: %zu not met\n", rows.size(),
                    results.size() - errors.size(), failed);
    }
    if (!errors.empty()) {
        int worst = 0;
        for (const auto& [h, e] : errors) {
            worst = std::max(worst, to_int(exit_code_for(e.code())));
        }
        return worst;
    }
    return ok ? 0 : 1;
}

int run_explain(Context& ctx, const RequireOptions& o) {
    auto opened = open_requirements(ctx, o.file);
    if (!opened) {
        return report_error(ctx, opened.error());
    }
    const auto& req = opened->second;
    std::fputs(require::explain_requirements(req).c_str(), stdout);
    return 0;
}

}  // namespace

void add_require_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<RequireOptions>();
    auto* sub = app.add_subcommand("require",
                                   "Operating requirements (requirements.toml) against host facts");
    sub->require_subcommand(1);
    sub->add_option("--file,-f", opts->file,
                    "requirements file, relative to the ops repo (default requirements.toml)");
    auto* check =
        sub->add_subcommand("check", "Check requirements on hosts; exit 1 when any is not met");
    check->add_option("HOSTS", opts->hosts, "host patterns (default: localhost)");
    auto* explain = sub->add_subcommand("explain", "Print the requirements as a Markdown document");
    (void)explain;
    out.push_back({sub, [opts, check](Context& ctx) {
                       return check->parsed() ? run_check(ctx, *opts) : run_explain(ctx, *opts);
                   }});
}

}  // namespace shipshape::cli
