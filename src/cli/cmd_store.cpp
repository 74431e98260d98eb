// shipshape store migrate: brings the project's store to this shipshape's schema and prints its
// version. A SQLite store migrates itself when opened; a PostgreSQL store, shared by a team, is
// migrated only here (see store/postgres/pg_store.hpp).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/context.hpp"
#include "cli/json.hpp"
#include "os/file_system.hpp"
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

}  // namespace

void add_store_commands(CLI::App& app, std::vector<Command>& out) {
    auto* store = app.add_subcommand("store", "Manage the store (where runs are recorded)");
    store->require_subcommand(1);
    auto* migrate = store->add_subcommand(
        "migrate",
        "Bring the store to this shipshape's schema and print its version (PostgreSQL stores "
        "are migrated only by this command; SQLite stores also migrate themselves)");
    out.push_back({migrate, [](Context& ctx) { return run_store_migrate(ctx); }});
}

}  // namespace shipshape::cli
