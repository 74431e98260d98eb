// shipshape image snapshot|build|list|rm: production images (C11). `image run`, `image check`
// and `image schedule` add themselves from their own files (image_cmds.hpp).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include "app/facts_service.hpp"
#include "app/fleet_service.hpp"
#include "app/hosts.hpp"
#include "cli/exit_code.hpp"
#include "cli/image_cmds.hpp"
#include "image/registry.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

namespace {

struct SnapshotArgs {
    std::vector<std::string> hosts;
    std::string output;
    std::string name;
    std::vector<std::string> keep;
    bool no_lab = false;
    int forks = 0;
};

struct BuildArgs {
    std::string spec;
    std::string name;
    bool no_cache = false;
    std::vector<std::string> set;
};

std::string now_iso() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

int run_snapshot(Context& ctx, const SnapshotArgs& a) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    std::string name = a.name;
    if (name.empty()) {
        name = std::filesystem::path(a.output).stem().string();
    }
    if (!image::valid_image_name(name)) {
        return report_error(
            ctx, Error(Errc::invalid_argument, "image name '" + name +
                                                   "' (from -o or --name): 1-64 of a-z 0-9 - _ ., "
                                                   "starting with a letter or digit"));
    }
    app::FactsService facts(repo->project, nullptr);
    std::vector<app::HostFactsResult> gathered;
    std::vector<std::string> patterns;
    for (const auto& h : a.hosts) {
        if (!h.empty() && h[0] == '@') {  // a saved snapshot
            auto repo_store = open_repo(ctx, NeedStore::yes);
            if (!repo_store) {
                return report_error(ctx, repo_store.error());
            }
            app::FactsService saved(repo_store->project, repo_store->store.get());
            auto f = saved.resolve(h);
            if (!f) {
                return report_error(ctx, f.error());
            }
            app::HostFactsResult r;
            r.host.name = f->host;
            r.facts = std::move(*f);
            gathered.push_back(std::move(r));
        } else {
            patterns.push_back(h);
        }
    }
    if (!patterns.empty()) {
        auto hosts = app::select_hosts(repo->project.inventory, patterns);
        if (!hosts) {
            return report_error(ctx, hosts.error());
        }
        std::unique_ptr<app::FleetService> fleet;
        if (std::any_of(hosts->begin(), hosts->end(), [](const auto& h) { return !h.local; })) {
            auto f = open_fleet(ctx, repo->project, a.forks);
            if (!f) {
                return report_error(ctx, f.error());
            }
            fleet = std::move(*f);
        }
        facts.use_fleet(fleet.get(), fanout_progress(ctx));
        auto got = facts.gather(*hosts, {"os", "cpu", "memory", "packages", "limits"}, false);
        gathered.insert(gathered.end(), got.begin(), got.end());
    }
    auto snap =
        app::snapshot_from_facts(repo->project, gathered, {name, a.keep, !a.no_lab, now_iso()});
    if (!snap) {
        return report_error(ctx, snap.error());
    }
    std::string text = image::render_spec(snap->spec, snap->header, snap->dissents);
    std::string out = os::path_absolute(a.output, ctx.cwd);
    if (auto st = os::write_whole_file_atomic(out, text); !st) {
        return report_error(ctx, st.error());
    }
    if (ctx.json) {
        std::printf(
            "{\"kind\":\"image-snapshot\",\"file\":\"%s\",\"name\":\"%s\",\"hosts\":%zu,"
            "\"packages\":%zu,\"dissents\":%zu}\n",
            a.output.c_str(), name.c_str(), snap->spec.hosts.size(), snap->spec.packages.size(),
            snap->dissents.size());
    } else {
        std::printf("%s: image %s from %zu host%s: %s %s, %zu packages pinned, %zu disagreements, "
                    "roles: %s\n",
                    a.output.c_str(), name.c_str(), snap->spec.hosts.size(),
                    snap->spec.hosts.size() == 1 ? "" : "s", snap->spec.release.c_str(),
                    snap->spec.architecture.c_str(), snap->spec.packages.size(),
                    snap->dissents.size(),
                    snap->spec.roles.empty() ? "none" : [&] {
                        std::string r;
                        for (const auto& x : snap->spec.roles) {
                            r += (r.empty() ? "" : ", ") + x;
                        }
                        return r;
                    }().c_str());
        for (const auto& line : snap->header) {
            if (line.rfind("left out", 0) == 0) {
                std::fprintf(stderr, "shipshape: %s\n", line.c_str());
            }
        }
    }
    return 0;
}

int run_build(Context& ctx, const BuildArgs& a) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::ImageService service(repo->project, *repo->runner, overlay_exec(*repo->runner));
    app::BuildOptions options;
    options.spec_path = os::path_absolute(a.spec, ctx.cwd);
    options.name = a.name;
    options.no_cache = a.no_cache;
    options.set = a.set;
    options.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    auto built = service.build(options);
    if (!built) {
        return report_error(ctx, built.error());
    }
    const auto& img = built->image;
    if (ctx.json) {
        std::printf(
            "%s\n",
            json_image(img, image::names_of(app::images_dir(repo->project), img.id)).c_str());
    } else {
        std::printf(
            "image %s: %s %s, %zu packages, base %s (%s, %.1f s), layer %llu files "
            "(%.1f s)%s\n",
            img.name.c_str(), img.release.c_str(), img.architecture.c_str(), img.packages.size(),
            img.parent.substr(0, 12).c_str(), built->base_cached ? "cached" : "built",
            built->base_seconds, static_cast<unsigned long long>(img.files), built->layer_seconds,
            built->existed ? "; identical to an image already built" : "");
        if (built->base_identical) {
            std::printf("rebuilt base (--no-cache): %s the cached one\n",
                        *built->base_identical ? "identical to" : "DIFFERS from");
        }
        std::printf("%s\n", img.id.c_str());
    }
    return 0;
}

int run_list(Context& ctx) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    const std::string dir = app::images_dir(repo->project);
    auto all = image::list_images(dir);
    if (!all) {
        return report_error(ctx, all.error());
    }
    std::vector<std::vector<std::string>> names;
    names.reserve(all->size());
    for (const auto& r : *all) {
        names.push_back(image::names_of(dir, r.id));
    }
    if (ctx.json) {
        std::printf("%s\n", json_images(*all, names).c_str());
        return 0;
    }
    if (all->empty()) {
        std::printf(
            "no images yet: shipshape image snapshot HOSTS -o images/prod.toml, then "
            "shipshape image build images/prod.toml\n");
        return 0;
    }
    std::printf("%-12s  %-12s  %-20s  %-12s  %-8s  %s\n", "ID", "NAME", "CREATED", "BASE",
                "PACKAGES", "SPEC (SNAPSHOT)");
    for (size_t i = 0; i < all->size(); ++i) {
        const auto& r = (*all)[i];
        std::string shown = names[i].empty() ? r.name + " (old)" : r.name;
        std::printf("%-12s  %-12s  %-20s  %-12s  %-8zu  %s%s\n", r.id.substr(0, 12).c_str(),
                    shown.c_str(), r.created.c_str(), r.parent.substr(0, 12).c_str(),
                    r.packages.size(), r.spec.c_str(),
                    r.snapshot.empty() ? "" : (" (" + r.snapshot + ")").c_str());
    }
    return 0;
}

int run_rm(Context& ctx, const std::string& ref) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::ImageService service(repo->project, *repo->runner, nullptr);
    auto removed = service.remove(ref);
    if (!removed) {
        return report_error(ctx, removed.error());
    }
    for (const auto& r : *removed) {
        std::printf("removed %s\n", r.c_str());
    }
    return 0;
}

}  // namespace

void add_image_commands(CLI::App& app, std::vector<Command>& out) {
    auto* group = app.add_subcommand(
        "image",
        "Production images: snapshot hosts into a spec, build a root filesystem from "
        "it, run commands in it, decide patch or rebuild");
    group->require_subcommand(1);

    auto snap = std::make_shared<SnapshotArgs>();
    auto* s =
        group->add_subcommand("snapshot",
                              "Write an image spec from hosts' facts: release, architecture, the "
                              "majority's package versions, roles, limits");
    s->add_option("HOSTS", snap->hosts, "host patterns, or @ID saved facts snapshots")->required();
    s->add_option("-o,--output", snap->output, "the spec file to write, e.g. images/prod.toml")
        ->required();
    s->add_option("--name", snap->name, "the image name (default: the file's stem)");
    s->add_option("--keep", snap->keep,
                  "pin only packages matching GLOB (repeatable; default: every package)");
    s->add_flag("--no-lab", snap->no_lab,
                "leave out openssh-server and the agent's libraries (lab = false)");
    s->add_option("--forks", snap->forks, "hosts gathered at once");
    out.push_back({s, [snap](Context& ctx) { return run_snapshot(ctx, *snap); }});

    auto build = std::make_shared<BuildArgs>();
    auto* b = group->add_subcommand(
        "build",
        "Build a root filesystem from a spec (mmdebstrap, then users and roles as a "
        "layer). Prints the image id on its last line");
    b->add_option("SPEC", build->spec, "the image spec file")->required();
    b->add_option("--name", build->name, "the image name (default: the spec's)");
    b->add_flag("--no-cache", build->no_cache,
                "build the package base again and say whether it matches the cached one");
    b->add_option("--set,-s", build->set, "a parameter of the roles' state: NAME=VALUE");
    out.push_back({b, [build](Context& ctx) { return run_build(ctx, *build); }});

    auto* l =
        group->add_subcommand("list", "Built images with their lineage: spec, snapshot, base");
    out.push_back({l, [](Context& ctx) { return run_list(ctx); }});

    auto rm_ref = std::make_shared<std::string>();
    auto* r = group->add_subcommand(
        "rm",
        "Remove an image (and its base when no other image uses it); refused while the "
        "lab uses it");
    r->add_option("IMAGE", *rm_ref, "NAME or ID")->required();
    out.push_back({r, [rm_ref](Context& ctx) { return run_rm(ctx, *rm_ref); }});

    add_image_run(*group, out);
    add_image_check(*group, out);
    add_image_schedule(*group, out);
}

}  // namespace shipshape::cli
