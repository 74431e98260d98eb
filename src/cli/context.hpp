// What every command handler gets: global options, the terminal's capabilities and the shared
// cancellation source, plus helpers to open the ops repo and report errors the same way
// everywhere (text on stderr, or one JSON object on stdout with --json).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/fleet_service.hpp"
#include "app/project.hpp"
#include "app/users.hpp"
#include "core/error.hpp"
#include "os/process.hpp"
#include "store/store.hpp"

namespace CLI {
class App;
}

namespace shipshape::cli {

struct Context {
    std::string directory;  // -C DIR, else empty
    std::string cwd;        // absolute working directory
    bool json = false;
    bool color = false;  // stderr/stdout are terminals and NO_COLOR is unset
    bool tty = false;    // stdout is a terminal
    std::string store;   // SHIPSHAPE_STORE: overrides the project's `store`; empty when unset
    const os::CancelSource* cancel = nullptr;
};

using Handler = std::function<int(Context&)>;

struct Command {
    CLI::App* app;
    Handler handler;
};

struct OpenRepo {
    app::Project project;
    std::unique_ptr<store::Store> store;
    std::unique_ptr<os::ProcessRunner> runner;
    bool in_repo = true;  // false: no ops repo here (open_repo_or_here), an empty project
};

enum class NeedStore { yes, no };

// Where the project's store is: SHIPSHAPE_STORE when set (a URI, or a path relative to the
// working directory), else the `store` of shipshape.toml (see Project::store_location).
std::string store_location(const Context& ctx, const app::Project& project);

// The user SHIPSHAPE_TOKEN authenticates, when a command must act as an authenticated user: the
// store is PostgreSQL (shared by a team) or SHIPSHAPE_TOKEN is set. nullopt otherwise (one
// person's SQLite store: $USER, --as and --by as given). Errc::invalid_argument naming
// SHIPSHAPE_TOKEN when it is missing or not valid; Errc::store when the store fails.
[[nodiscard]] Result<std::optional<app::Identity>> authenticated_user(const Context& ctx,
                                                                      OpenRepo& repo);

// Finds the ops repo (-C or walking up from the working directory) and loads it, warning about
// secrets too short to redact well. No store: the agent (shipshape-agent) uses it too.
[[nodiscard]] Result<app::Project> open_project(const Context& ctx);
// Finds the ops repo (-C or walking up from the working directory), loads it and, unless told
// not to, opens its store (OpenRepo::store is null then) at store_location.
[[nodiscard]] Result<OpenRepo> open_repo(const Context& ctx, NeedStore need = NeedStore::yes);

// For commands about this machine that work anywhere (facts, require check), as Facter and
// osquery do: the ops repo when there is one (with its store unless `need` is no), else an
// empty project rooted at the working directory, without a store. A -C DIR without an ops repo
// is still an error.
[[nodiscard]] Result<OpenRepo> open_repo_or_here(const Context& ctx, NeedStore need);

struct OpenRun {
    OpenRepo repo;
    std::string run_id;  // "last" resolved
};

// open_repo, then resolve_run_id.
[[nodiscard]] Result<OpenRun> open_run(const Context& ctx, const std::string& id);

// Resolves "last" to the newest run id; other ids pass through.
[[nodiscard]] Result<std::string> resolve_run_id(store::Store& store, const std::string& id);

// The fleet transport for the repo's remote hosts (agent = this binary). `forks` 0: the
// inventory's [ssh] forks, else sized for the fleet.
[[nodiscard]] Result<std::unique_ptr<app::FleetService>> open_fleet(const Context& ctx,
                                                                    const app::Project& project,
                                                                    int forks);

// Live fan-out progress on stderr ("apply: 7/10 done, 1 failed, 2 running") when stderr is a
// terminal and output is not JSON; else an empty function.
app::ProgressFn fanout_progress(const Context& ctx);

// "1 host", "2 hosts": a count with the right form of its noun.
std::string plural(size_t n, const std::string& one, const std::string& many);

// "YYYY-MM-DD HH:MM:SS" in local time, for tables.
std::string format_local_time(int64_t ms);

// Prints `error` for people (stderr) or scripts (stdout, JSON) and returns its exit code.
int report_error(const Context& ctx, const Error& error);

void add_init_command(CLI::App& app, std::vector<Command>& out);
void add_run_command(CLI::App& app, std::vector<Command>& out);
void add_resume_command(CLI::App& app, std::vector<Command>& out);
void add_undo_command(CLI::App& app, std::vector<Command>& out);
void add_check_off_command(CLI::App& app, std::vector<Command>& out);
void add_runs_command(CLI::App& app, std::vector<Command>& out);
void add_show_command(CLI::App& app, std::vector<Command>& out);
void add_validate_command(CLI::App& app, std::vector<Command>& out);
void add_hosts_command(CLI::App& app, std::vector<Command>& out);
void add_facts_command(CLI::App& app, std::vector<Command>& out);
void add_require_command(CLI::App& app, std::vector<Command>& out);
void add_state_commands(CLI::App& app, std::vector<Command>& out);
void add_fault_command(CLI::App& app, std::vector<Command>& out);
void add_fleet_commands(CLI::App& app, std::vector<Command>& out);
void add_serve_command(CLI::App& app, std::vector<Command>& out);
void add_ci_commands(CLI::App& app, std::vector<Command>& out);
void add_store_commands(CLI::App& app, std::vector<Command>& out);
void add_user_commands(CLI::App& app, std::vector<Command>& out);
void add_package_commands(CLI::App& app, std::vector<Command>& out);
void add_versions_command(CLI::App& app, std::vector<Command>& out);
void add_release_commands(CLI::App& app, std::vector<Command>& out);
void add_sign_off_command(CLI::App& app, std::vector<Command>& out);
// `package build`, `package inspect` and `package diff` (cmd_package_*.cpp), added to the
// `package` group by cmd_package.cpp.
void add_package_build(CLI::App& package, std::vector<Command>& out);
void add_package_inspect(CLI::App& package, std::vector<Command>& out);
void add_package_diff(CLI::App& package, std::vector<Command>& out);

}  // namespace shipshape::cli
