// shipshape release create|show|list|verify: releases bound to content, and their stages.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "app/release_service.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/release_view.hpp"

namespace shipshape::cli {

namespace {

struct CreateOptions {
    std::string name;
    std::vector<std::string> packages;
    std::string checklist;
    std::vector<std::string> sets;
};

struct ShowOptions {
    std::string release;
    std::string stage;
    bool offline = false;
};

Result<std::vector<std::pair<std::string, std::string>>> parse_sets(
    const std::vector<std::string>& sets) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& kv : sets) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            return fail(Errc::invalid_argument, "--set '" + kv + "': expected NAME=VALUE");
        }
        out.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return out;
}

int run_create(Context& ctx, const CreateOptions& o) {
    auto params = parse_sets(o.sets);
    if (!params) {
        return report_error(ctx, params.error());
    }
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::ReleaseService service(repo->project, repo->store.get(), *repo->runner);
    app::ReleaseCreateRequest request{o.name,  o.packages, o.checklist, std::move(*params),
                                      ctx.cwd, ""};
    auto created = service.create(request);
    if (!created) {
        return report_error(ctx, created.error());
    }
    print_release_created(ctx, *created);
    return 0;
}

// Opens the repo (with its store unless offline) and the release's status.
Result<std::pair<OpenRepo, app::ReleaseStatus>> load_status(const Context& ctx,
                                                            const std::string& release,
                                                            bool offline) {
    auto repo = open_repo(ctx, offline ? NeedStore::no : NeedStore::yes);
    if (!repo) {
        return fail(repo.error());
    }
    app::ReleaseService service(repo->project, repo->store.get(), *repo->runner);
    auto record = service.resolve(release);
    if (!record) {
        return fail(record.error());
    }
    auto status = service.status(*record);
    if (!status) {
        return fail(status.error());
    }
    return std::pair(std::move(*repo), std::move(*status));
}

int run_show(Context& ctx, const ShowOptions& o) {
    auto loaded = load_status(ctx, o.release, o.offline);
    if (!loaded) {
        return report_error(ctx, loaded.error());
    }
    print_release_status(ctx, loaded->second, o.offline);
    return 0;
}

int run_list(Context& ctx) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::ReleaseService service(repo->project, repo->store.get(), *repo->runner);
    auto records = service.list();
    if (!records) {
        return report_error(ctx, records.error());
    }
    std::vector<app::ReleaseStatus> all;
    all.reserve(records->size());
    for (const auto& r : *records) {
        auto s = service.status(r);
        if (!s) {
            return report_error(ctx, s.error());
        }
        all.push_back(std::move(*s));
    }
    print_release_list(ctx, all);
    return 0;
}

// Exit 0 when every gate of the stage (every stage without --stage) holds, 1 naming the first
// problem otherwise.
int run_verify(Context& ctx, const ShowOptions& o) {
    auto loaded = load_status(ctx, o.release, o.offline);
    if (!loaded) {
        return report_error(ctx, loaded.error());
    }
    auto& status = loaded->second;
    const auto& project = loaded->first.project;
    if (!o.stage.empty() && !project.config.find_stage(o.stage)) {
        return report_error(
            ctx, Error(Errc::invalid_argument, "no stage '" + o.stage + "' in shipshape.toml"));
    }
    std::string problem;
    std::string where;
    for (auto& st : status.stages) {
        if (!o.stage.empty() && st.stage->name != o.stage) {
            continue;
        }
        if (o.offline) {
            // Offline, a stage's `after` run cannot be known: not counted against it.
            std::erase(st.gate.missing, st.stage->after + " run not finished");
            st.gate.ok = st.gate.missing.empty();
        }
        if (!st.gate.ok && problem.empty()) {
            problem = st.gate.missing.front();
            where = st.stage->name;
        }
    }
    const bool ok = problem.empty();
    if (ctx.json) {
        std::printf("%s\n", json_release_status(status, o.offline, "release-verify").c_str());
    } else if (ok) {
        const std::string which =
            o.stage.empty() ? "every stage's gates" : "stage " + o.stage + "'s gates";
        std::printf("release %s (%s): %s hold: content hashes, signatures, roles, quorum%s\n",
                    status.record.document.name.c_str(),
                    release::short_hash(status.record.id).c_str(), which.c_str(),
                    o.offline ? " (offline: earlier stages' runs not checked)"
                              : " and earlier stages' runs");
    } else {
        print_release_status(ctx, status, o.offline);
        std::fprintf(stderr, "shipshape: release %s may not go to %s: %s\n",
                     status.record.document.name.c_str(), where.c_str(), problem.c_str());
    }
    return ok ? 0 : to_int(ExitCode::failed);
}

}  // namespace

void add_release_commands(CLI::App& app, std::vector<Command>& out) {
    auto* group = app.add_subcommand(
        "release", "Releases bound to content: create one, see its stages, verify its sign-offs");
    group->require_subcommand(1);

    auto create = std::make_shared<CreateOptions>();
    auto* c = group->add_subcommand(
        "create",
        "Hash a release's packages, checklist, params, requirements and state into "
        "its id; write releases/NAME/ID.json. Prints the id on the last line");
    c->add_option("NAME", create->name, "release name, e.g. booking-1.4.3")->required();
    c->add_option("--package,-p", create->packages,
                  "a .deb (its manifest is hashed) or any artifact file (repeatable)")
        ->expected(1, -1);
    c->add_option("--checklist", create->checklist, "the checklist the release runs")->required();
    c->add_option("--set,-s", create->sets, "a param of the checklist: NAME=VALUE (repeatable)");
    out.push_back({c, [create](Context& ctx) { return run_create(ctx, *create); }});

    auto show = std::make_shared<ShowOptions>();
    auto* s = group->add_subcommand(
        "show", "A release's document, what changed since it was made, and each stage's gate");
    s->add_option("RELEASE", show->release, "NAME (its newest id) or ID (8+ hex digits)")
        ->required();
    s->add_flag("--offline", show->offline, "use the ops repo alone: no store, no journal");
    out.push_back({s, [show](Context& ctx) { return run_show(ctx, *show); }});

    auto* l = group->add_subcommand("list", "Every release, the stage it reached and what next");
    out.push_back({l, [](Context& ctx) { return run_list(ctx); }});

    auto verify = std::make_shared<ShowOptions>();
    auto* v = group->add_subcommand(
        "verify",
        "Check a release from the ops repo: content hashes, signatures, roles, quorum (and "
        "earlier stages' runs from the journal). Exit 0 when the gates hold, 1 naming what is "
        "missing");
    v->add_option("RELEASE", verify->release, "NAME (its newest id) or ID")->required();
    v->add_option("--stage", verify->stage, "only this stage's gates (default: every stage)");
    v->add_flag("--offline", verify->offline,
                "the ops repo alone, no store: earlier stages' runs are not checked");
    out.push_back({v, [verify](Context& ctx) { return run_verify(ctx, *verify); }});
}

}  // namespace shipshape::cli
