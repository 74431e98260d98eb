// shipshape facts [HOSTS] and shipshape facts diff A B.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "app/facts_service.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/facts_view.hpp"
#include "cli/json.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

namespace {

struct FactsOptions {
    std::vector<std::string> hosts;
    std::vector<std::string> only;
    bool save = false;
    bool list = false;
    std::string left, right;
    std::string import_host, import_file;
    int forks = 0;
};

int run_import(Context& ctx, const FactsOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    std::string text;
    if (auto r = os::read_whole_file(os::path_absolute(o.import_file, ctx.cwd)); r) {
        text = std::move(*r);
    } else {
        return report_error(ctx, r.error());
    }
    app::FactsService service(repo->project, repo->store.get());
    auto id = service.import(o.import_host, text);
    if (!id) {
        return report_error(ctx, id.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_facts_import(o.import_host, *id).c_str());
    } else {
        std::printf("saved facts of %s as @%lld\n", o.import_host.c_str(),
                    static_cast<long long>(*id));
    }
    return 0;
}

Status check_sections(const std::vector<std::string>& only) {
    for (const auto& s : only) {
        if (std::find(facts::k_sections.begin(), facts::k_sections.end(), s) ==
            facts::k_sections.end()) {
            std::string known;
            for (const auto& k : facts::k_sections) {
                known += (known.empty() ? "" : ", ") + k;
            }
            return fail(Errc::invalid_argument,
                        "--only '" + s + "': unknown section (expected: " + known + ")");
        }
    }
    return {};
}

// "--only os,cpu --only memory" -> {os, cpu, memory}.
std::vector<std::string> split_sections(const std::vector<std::string>& given) {
    std::vector<std::string> out;
    for (const auto& g : given) {
        size_t start = 0;
        while (start <= g.size()) {
            size_t comma = g.find(',', start);
            if (comma == std::string::npos) {
                comma = g.size();
            }
            if (comma > start) {
                out.push_back(g.substr(start, comma - start));
            }
            start = comma + 1;
        }
    }
    return out;
}

int run_facts(Context& ctx, FactsOptions o) {
    o.only = split_sections(o.only);
    if (auto st = check_sections(o.only); !st) {
        return report_error(ctx, st.error());
    }
    // Snapshots live in an ops repo's store; gathering this machine's facts needs no repo.
    auto repo =
        o.save || o.list ? open_repo(ctx, NeedStore::yes) : open_repo_or_here(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::FactsService service(repo->project, repo->store.get());
    if (o.list) {
        auto snaps = service.snapshots(o.hosts.empty() ? "" : o.hosts.front());
        if (!snaps) {
            return report_error(ctx, snaps.error());
        }
        if (ctx.json) {
            std::printf("%s\n", json_snapshots(*snaps).c_str());
        } else {
            for (const auto& s : *snaps) {
                std::printf("@%-5lld %-16s %lld  %s\n", static_cast<long long>(s.id),
                            s.host.c_str(), static_cast<long long>(s.at), s.hash.c_str());
            }
        }
        return 0;
    }
    auto hosts = app::select_hosts_or_this_machine(
        repo->in_repo ? &repo->project.inventory : nullptr, o.hosts);
    if (!hosts) {
        return report_error(ctx, hosts.error());
    }
    std::unique_ptr<app::FleetService> fleet;
    if (std::any_of(hosts->begin(), hosts->end(), [](const auto& h) { return !h.local; })) {
        auto f = open_fleet(ctx, repo->project, o.forks);
        if (!f) {
            return report_error(ctx, f.error());
        }
        fleet = std::move(*f);
    }
    service.use_fleet(fleet.get(), fanout_progress(ctx));
    auto results = service.gather(*hosts, o.only, o.save);
    int code = 0;
    if (ctx.json) {
        std::printf("%s\n", json_facts(results, o.only).c_str());
    }
    for (const auto& r : results) {
        if (!ctx.json && r.facts) {
            print_facts(*r.facts, o.only, r.snapshot_id);
        }
        if (r.error) {
            if (!ctx.json) {
                std::fprintf(stderr, "shipshape: %s: %s\n", r.host.name.c_str(),
                             r.error->message().c_str());
            }
            code = std::max(code, to_int(exit_code_for(r.error->code())));
        }
    }
    return code;
}

int run_diff(Context& ctx, const FactsOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::FactsService service(repo->project, repo->store.get());
    auto fleet = open_fleet(ctx, repo->project, 0);
    if (!fleet) {
        return report_error(ctx, fleet.error());
    }
    service.use_fleet(fleet->get(), {});
    auto left = service.resolve(o.left);
    if (!left) {
        return report_error(ctx, left.error());
    }
    auto right = service.resolve(o.right);
    if (!right) {
        return report_error(ctx, right.error());
    }
    auto diffs = facts::diff_facts(*left, *right);
    if (ctx.json) {
        std::printf("%s\n", json_facts_diff(o.left, o.right, diffs).c_str());
    } else if (diffs.empty()) {
        std::printf("%s and %s: no differences\n", o.left.c_str(), o.right.c_str());
    } else {
        size_t w = 24;
        for (const auto& d : diffs) {
            w = std::max(w, d.left.size());
        }
        w = std::min<size_t>(w, 40);
        std::printf("%-9s %-28s %-*s %s\n", "SECTION", "WHAT", static_cast<int>(w), o.left.c_str(),
                    o.right.c_str());
        for (const auto& d : diffs) {
            std::printf("%-9s %-28s %-*s %s\n", d.section.c_str(), d.subject.c_str(),
                        static_cast<int>(w), d.left.empty() ? "-" : d.left.c_str(),
                        d.right.empty() ? "-" : d.right.c_str());
        }
        std::printf("%s\n", plural(diffs.size(), "difference", "differences").c_str());
    }
    return diffs.empty() ? 0 : 1;
}

}  // namespace

void add_facts_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<FactsOptions>();
    auto* sub = app.add_subcommand(
        "facts", "Gather host facts: OS, CPU, memory, disks, network, packages, services, limits");
    sub->add_option("HOSTS", opts->hosts,
                    "host patterns (default: this machine); with --list, a host name");
    sub->add_option("--only", opts->only,
                    "sections: os cpu memory mounts network packages services limits env")
        ->allow_extra_args(
            false);  // one value per --only (split on commas below), so HOSTS after it stay hosts
    sub->add_option("--forks", opts->forks, "hosts at once (default: all, up to 64)")
        ->check(CLI::Range(1, 1000));
    sub->add_flag("--save", opts->save,
                  "record a snapshot in the store (see --list, facts diff @ID)");
    sub->add_flag("--list", opts->list, "list saved snapshots instead of gathering");
    auto* diff = sub->add_subcommand(
        "diff", "Compare two hosts or saved snapshots (@ID); exit 1 when they differ");
    diff->add_option("A", opts->left, "host or @snapshot")->required();
    diff->add_option("B", opts->right, "host or @snapshot")->required();
    auto* import = sub->add_subcommand(
        "import", "Save a facts JSON document (shipshape.facts/1) as a snapshot of HOST");
    import->add_option("HOST", opts->import_host, "inventory host name")->required();
    import->add_option("FILE", opts->import_file, "facts document (from facts --json)")->required();
    out.push_back({sub, [opts, diff, import](Context& ctx) {
                       if (import->parsed()) {
                           return run_import(ctx, *opts);
                       }
                       return diff->parsed() ? run_diff(ctx, *opts) : run_facts(ctx, *opts);
                   }});
}

}  // namespace shipshape::cli
