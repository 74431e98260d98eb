// shipshape lab up N [--image IMG] [--env lab] | lab down | lab status [--json]: a fleet of
// containers with their own sshd, network namespace and overlay root on this machine, added to
// the ops repo as environment `lab` (inventory.lab.toml).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/lab.hpp"
#include "cli/context.hpp"
#include "cli/image_cmds.hpp"

namespace shipshape::cli {

namespace {

struct LabOptions {
    int count = 0;
    std::string image;
    std::string env = "lab";
};

int run_lab_up(Context& ctx, const LabOptions& o) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto runner = os::make_process_runner();
    app::LabService lab(repo->project, *runner);
    auto r = lab.up({o.count, o.image, o.env});
    if (!r) {
        return report_error(ctx, r.error());
    }
    if (ctx.json) {
        std::printf("%s", app::lab_status_json(r->state).c_str());
        return 0;
    }
    const auto& s = r->state;
    std::printf(
        "lab: %zu hosts of image %s in environment '%s' (%s, bridge %s): %zu started, "
        "%zu already running%s\n",
        s.hosts.size(), (s.image_name.empty() ? s.image.substr(0, 12) : s.image_name).c_str(),
        s.env.c_str(), s.subnet.c_str(), s.bridge.c_str(), r->started.size(), r->kept.size(),
        r->removed.empty() ? "" : (", " + std::to_string(r->removed.size()) + " removed").c_str());
    for (const auto& h : s.hosts) {
        std::printf("  %-8s %s\n", h.name.c_str(), h.address.c_str());
    }
    return 0;
}

int run_lab_down(Context& ctx) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto runner = os::make_process_runner();
    app::LabService lab(repo->project, *runner);
    auto r = lab.down();
    if (!r) {
        return report_error(ctx, r.error());
    }
    if (r->empty()) {
        std::printf("lab: nothing to remove\n");
    } else {
        std::printf("lab: removed");
        for (const auto& what : *r) {
            std::printf(" %s", what.c_str());
        }
        std::printf("\n");
    }
    return 0;
}

int run_lab_status(Context& ctx) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto runner = os::make_process_runner();
    app::LabService lab(repo->project, *runner);
    auto s = lab.status();
    if (!s) {
        return report_error(ctx, s.error());
    }
    if (ctx.json) {
        std::printf("%s", app::lab_status_json(*s).c_str());
        return 0;
    }
    std::printf("lab: environment '%s', image %s, %s, bridge %s\n", s->env.c_str(),
                (s->image_name.empty() ? s->image.substr(0, 12) : s->image_name).c_str(),
                s->subnet.c_str(), s->bridge.c_str());
    std::printf("%-8s %-16s %-8s %s\n", "HOST", "ADDRESS", "PID", "STATE");
    for (const auto& h : s->hosts) {
        std::printf("%-8s %-16s %-8d %s\n", h.name.c_str(), h.address.c_str(), h.pid,
                    h.running ? "running" : "down (lab up repairs it)");
    }
    return 0;
}

}  // namespace

void add_lab_commands(CLI::App& app, std::vector<Command>& out) {
    auto* lab = app.add_subcommand(
        "lab", "A local fleet: N hosts in containers of an image, each with its own sshd");
    lab->require_subcommand(1);
    auto opts = std::make_shared<LabOptions>();
    auto* up = lab->add_subcommand(
        "up", "Make hosts lab1…labN (environment lab) running; repairs any that is not");
    up->add_option("N", opts->count, "how many hosts")->required()->check(CLI::Range(1, 250));
    up->add_option("--image", opts->image, "image name, id or prefix (default: the newest)");
    up->add_option("--env", opts->env, "the environment they form (default: lab)");
    out.push_back({up, [opts](Context& ctx) { return run_lab_up(ctx, *opts); }});
    auto* down = lab->add_subcommand(
        "down", "Remove the lab: processes, namespaces, veths, bridge, files, inventory");
    out.push_back({down, [](Context& ctx) { return run_lab_down(ctx); }});
    auto* status = lab->add_subcommand("status", "List the lab's hosts and whether they run");
    out.push_back({status, [](Context& ctx) { return run_lab_status(ctx); }});
}

}  // namespace shipshape::cli
