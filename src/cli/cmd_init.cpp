// shipshape init DIR: scaffold an ops repo.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/init.hpp"
#include "cli/context.hpp"
#include "cli/json.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

namespace {

struct InitOptions {
    std::string dir;
    std::string name;
};

int run_init(Context& ctx, const InitOptions& o) {
    std::string dir = os::path_absolute(o.dir, ctx.cwd);
    std::string name = o.name;
    if (name.empty()) {
        size_t slash = dir.rfind('/');
        name = slash == std::string::npos ? dir : dir.substr(slash + 1);
        if (name.empty()) {
            name = "ops";
        }
    }
    auto files = app::init_project(dir, name);
    if (!files) {
        return report_error(ctx, files.error());
    }
    if (ctx.json) {
        std::printf("%s\n", json_init(dir, *files).c_str());
        return 0;
    }
    std::printf("created ops repo '%s' in %s\n", name.c_str(), dir.c_str());
    for (const auto& f : *files) {
        std::printf("  %s\n", f.c_str());
    }
    std::printf("next:\n  cd %s\n  shipshape run checklists/deploy.toml --set version=1.4.2\n",
                o.dir.c_str());
    return 0;
}

}  // namespace

void add_init_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<InitOptions>();
    auto* sub = app.add_subcommand("init", "Create a new ops repo with a sample deploy checklist");
    sub->add_option("DIR", opts->dir, "directory to create (must not hold an ops repo)")
        ->required();
    sub->add_option("--name", opts->name, "project name (default: the directory's name)");
    out.push_back({sub, [opts](Context& ctx) { return run_init(ctx, *opts); }});
}

}  // namespace shipshape::cli
