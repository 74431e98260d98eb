// shipshape store migrate: brings the project's store to this shipshape's schema and prints its
// version. A SQLite store migrates itself when opened; a PostgreSQL store, shared by a team, is
// migrated only here (see store/postgres/pg_store.hpp).
// shipshape store copy --from LOCATION --to LOCATION: copies one store's history into another
// (store/copy.hpp), progress on stderr, a summary on stdout.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/context.hpp"
#include "cli/json.hpp"
#include "os/file_system.hpp"
#include "store/copy.hpp"
#include "store/postgres/pg_store.hpp"

namespace shipshape::cli {

namespace {

int run_store_migrate(Context& ctx) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    // The default SQLite store lives in .shipshape, which may not exist yet.
    if (auto st = os::make_local_file_system()->create_directories(repo->project.state_dir());
        !st) {
        return report_error(ctx, st.error());
    }
    const std::string location = store_location(ctx, repo->project);
    auto migrated = store::migrate_store(location);
    if (!migrated) {
        return report_error(ctx, migrated.error());
    }
    const std::string shown = store::redact_postgres_uri(location);
    if (ctx.json) {
        std::printf("%s\n", json_store_migrate(shown, migrated->from, migrated->to).c_str());
        return 0;
    }
    if (migrated->from == migrated->to) {
        std::printf("store %s: schema version %lld, up to date\n", shown.c_str(),
                    static_cast<long long>(migrated->to));
    } else {
        std::printf("store %s: schema version %lld (migrated from %lld)\n", shown.c_str(),
                    static_cast<long long>(migrated->to), static_cast<long long>(migrated->from));
    }
    return 0;
}

// A relative SQLite path is relative to the working directory, as the user typed it.
std::string resolve_location(const Context& ctx, const std::string& location) {
    if (location.find("://") != std::string::npos || location.starts_with("/") ||
        location.starts_with("sqlite:")) {
        return location;
    }
    return ctx.cwd + "/" + location;
}

int run_store_copy(Context& ctx, const std::string& from, const std::string& to) {
    const std::string shown_from = store::redact_postgres_uri(from);
    const std::string shown_to = store::redact_postgres_uri(to);
    // Progress only for long copies: every 1000 records of a part, and its end.
    auto progress = [](std::string_view part, int64_t done, int64_t total) {
        if (total >= 1000 && (done % 1000 == 0 || done == total)) {
            std::fprintf(stderr, "copying %.*s: %lld/%lld\n", static_cast<int>(part.size()),
                         part.data(), static_cast<long long>(done), static_cast<long long>(total));
        }
    };
    auto copied =
        store::copy_store(resolve_location(ctx, from), resolve_location(ctx, to), progress);
    if (!copied) {
        return report_error(ctx, copied.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_store_copy(shown_from, shown_to, *copied).c_str());
        return 0;
    }
    std::printf("copied %s to %s:\n", shown_from.c_str(), shown_to.c_str());
    for (const auto& c : *copied) {
        std::printf("  %s: copied %lld, skipped %lld already present\n", c.part.c_str(),
                    static_cast<long long>(c.copied), static_cast<long long>(c.skipped));
        if (!c.note.empty()) {
            std::printf("    %s\n", c.note.c_str());
        }
    }
    return 0;
}

}  // namespace

void add_store_commands(CLI::App& app, std::vector<Command>& out) {
    auto* store = app.add_subcommand("store", "Manage the store (where runs are recorded)");
    store->require_subcommand(1);
    auto* migrate = store->add_subcommand(
        "migrate",
        "Bring the store to this shipshape's schema and print its version (PostgreSQL stores "
        "are migrated only by this command; SQLite stores also migrate themselves)");
    out.push_back({migrate, [](Context& ctx) { return run_store_migrate(ctx); }});

    auto from = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    auto* copy = store->add_subcommand(
        "copy",
        "Copy runs (with steps, check-offs, events), facts, state reports and applied params "
        "from one store to another, e.g. .shipshape/state.db to postgresql://...; a second copy "
        "duplicates nothing");
    copy->add_option("--from", *from, "the store to read (a path, sqlite:PATH or postgresql://...)")
        ->required();
    copy->add_option("--to", *to,
                     "the store to write (migrated first when empty, refused when its schema "
                     "differs)")
        ->required();
    out.push_back({copy, [from, to](Context& ctx) { return run_store_copy(ctx, *from, *to); }});
}

}  // namespace shipshape::cli
