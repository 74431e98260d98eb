// shipshape package diff A B [--stat] [--full] [--json]: the upgrade review. Each side is a .deb,
// a manifest file, NAME@HOST or NAME@env:ENV (the version installed there). Exits like diff(1):
// 0 the same, 1 different, 2 or more when a side cannot be had.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include "app/package_diff.hpp"
#include "app/package_remote.hpp"
#include "app/require_service.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/package_diff_view.hpp"
#include "os/fan_out.hpp"
#include "package/diff.hpp"
#include "package/manifest.hpp"
#include "package/read.hpp"

namespace shipshape::cli {

namespace {

struct DiffOptions {
    std::string a;
    std::string b;
    bool stat = false;
    bool full = false;
};

// A side named by the user, loaded.
struct Side {
    package::Manifest manifest;
    std::string label;                     // as shown: the path, or "booking 1.4.2 on web1"
    std::vector<app::SelectedHost> hosts;  // installed sides: where it was read
    std::optional<std::string> env;        // NAME@env:ENV
};

// What installed sides need: the ops repo (inventory) and, for remote hosts, the fleet.
struct Installed {
    std::optional<OpenRepo> repo;
    std::unique_ptr<app::FleetService> fleet;
};

// The installed manifests of `package` on `hosts`: this machine read in-process, other hosts
// through their agents (the fleet is opened the first time a remote host is named).
std::vector<app::InstalledManifest> read_installed_on(const Context& ctx, Installed& inst,
                                                      const std::vector<app::SelectedHost>& hosts,
                                                      const std::string& package) {
    const bool remote =
        std::any_of(hosts.begin(), hosts.end(), [](const auto& h) { return !h.local; });
    if (remote && !inst.fleet) {
        auto f = open_fleet(ctx, inst.repo->project, 0);
        if (!f) {
            std::vector<app::InstalledManifest> out;
            out.reserve(hosts.size());
            for (const auto& h : hosts) {
                out.push_back({h.name, fail(f.error())});
            }
            return out;
        }
        inst.fleet = std::move(*f);
    }
    return app::installed_manifests(inst.fleet.get(), hosts, package);
}

Result<Side> load_installed(const Context& ctx, const app::PackageSide& spec, Installed& inst) {
    if (!inst.repo) {
        auto repo = open_repo_or_here(ctx, NeedStore::no);  // NAME@localhost needs none
        if (!repo) {
            return fail(repo.error().context("'" + spec.text + "' names an installed version"));
        }
        inst.repo = std::move(*repo);
    }
    auto side = app::load_installed_side(
        inst.repo->project.inventory, spec,
        [&](const std::vector<app::SelectedHost>& hosts, const std::string& package) {
            return read_installed_on(ctx, inst, hosts, package);
        });
    if (!side) {
        return fail(side.error());
    }
    for (const auto& note : side->notes) {
        std::fprintf(stderr, "shipshape: note: %s\n", note.c_str());
    }
    return Side{std::move(side->manifest), std::move(side->label), std::move(side->hosts),
                std::move(side->env)};
}

// Errors exit 2 or more: 1 means "different", as for diff(1).
int report_side_error(const Context& ctx, const Error& e) {
    return std::max(report_error(ctx, e), to_int(ExitCode::usage));
}

int run_diff(Context& ctx, const DiffOptions& o) {
    const app::PackageSide specs[] = {app::parse_package_side(o.a), app::parse_package_side(o.b)};
    // Files first, both at once: reading a .deb is mostly decompressing and hashing, one core
    // each. A file wins over NAME@HOST ("x@y.deb" may well be a file name).
    std::vector<std::optional<Result<Side>>> sides(2);
    os::fan_out(2, 2, [&](size_t i) {
        auto m = package::load_package_file(specs[i].text);
        if (m) {
            sides[i] = Side{std::move(*m), specs[i].text, {}, {}};
        } else {
            sides[i] = fail(m.error());
        }
    });
    Installed installed;
    for (size_t i = 0; i < 2; ++i) {
        auto& side = *sides[i];
        if (!side && side.error().code() == Errc::not_found &&
            specs[i].kind != app::PackageSide::Kind::file) {
            side = load_installed(ctx, specs[i], installed);
        }
        if (!side) {
            return report_side_error(ctx, side.error());
        }
    }
    const Side& a = **sides[0];
    const Side& b = **sides[1];
    package::PackageDiff diff = package::diff_manifests(a.manifest, b.manifest);
    app::unknown_installed_requirements(diff, a.manifest, !a.hosts.empty(), b.manifest,
                                        !b.hosts.empty());
    if (a.env) {
        app::RequireService service(installed.repo->project, installed.fleet.get(),
                                    fanout_progress(ctx));
        app::check_upgrade_requirements(diff, b.manifest, a.hosts, "env:" + *a.env, service);
    }
    if (ctx.json) {
        std::fputs(package::diff_to_json(diff).c_str(), stdout);
    } else {
        PackageDiffView view{a.label, b.label, o.stat, o.full, ctx.color};
        std::fputs(render_package_diff(diff, view).c_str(), stdout);
    }
    std::fflush(stdout);
    return package::empty(diff) ? 0 : 1;
}

}  // namespace

void add_package_diff(CLI::App& package, std::vector<Command>& out) {
    auto opts = std::make_shared<DiffOptions>();
    auto* sub = package.add_subcommand(
        "diff",
        "What replacing package A with B changes on a host: dependencies, operating "
        "requirements, maintainer scripts, conffiles, files and size, summary first. Exit 0 when "
        "they are the same, 1 when they differ, 2 or more when a side cannot be read");
    sub->add_option("A", opts->a,
                    "the old side: FILE.deb, FILE.manifest.json, NAME@HOST or NAME@env:ENV (the "
                    "version installed there)")
        ->required();
    sub->add_option("B", opts->b, "the new side, like A")->required();
    sub->add_flag("--stat", opts->stat, "print only the summary");
    sub->add_flag("--full", opts->full, "do not fold long lists and diffs");
    out.push_back({sub, [opts](Context& ctx) { return run_diff(ctx, *opts); }});
}

}  // namespace shipshape::cli
