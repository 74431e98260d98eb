// shipshape hosts [PATTERNS]: list inventory hosts.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/hosts.hpp"
#include "cli/context.hpp"
#include "cli/json.hpp"

namespace shipshape::cli {

namespace {

struct HostsOptions {
    std::vector<std::string> patterns;
    std::string env;
    std::string group;
};

int run_hosts(Context& ctx, const HostsOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    std::vector<std::string> patterns = o.patterns;
    if (!o.env.empty()) {
        patterns.push_back("env:" + o.env);
    }
    if (!o.group.empty()) {
        patterns.push_back("group:" + o.group);
    }
    auto hosts = app::select_hosts_or_all(repo->project.inventory, patterns);
    if (!hosts) {
        return report_error(ctx, hosts.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_hosts(*hosts).c_str());
        return 0;
    }
    std::printf("%-16s %-18s %-10s %-6s %s\n", "HOST", "ADDRESS", "ENV", "LOCAL", "TAGS");
    for (const auto& h : *hosts) {
        std::string tags;
        for (const auto& [k, v] : h.tags) {
            tags += (tags.empty() ? "" : " ") + k + "=" + v;
        }
        std::printf("%-16s %-18s %-10s %-6s %s\n", h.name.c_str(), h.address.c_str(),
                    h.env.empty() ? "-" : h.env.c_str(), h.local ? "yes" : "no", tags.c_str());
    }
    return 0;
}

}  // namespace

void add_hosts_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<HostsOptions>();
    auto* sub =
        app.add_subcommand("hosts", "List inventory hosts (all, or those matching patterns)");
    sub->add_option("PATTERNS", opts->patterns, "NAME, glob (web*), group:NAME or env:NAME");
    sub->add_option("--env", opts->env, "only hosts of this environment");
    sub->add_option("--group", opts->group, "only hosts of this group");
    out.push_back({sub, [opts](Context& ctx) { return run_hosts(ctx, *opts); }});
}

}  // namespace shipshape::cli
