// shipshape validate [FILES]: check the ops repo's definitions without running anything.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/project.hpp"
#include "app/release_service.hpp"
#include "checklist/load.hpp"
#include "checklist/validate.hpp"
#include "cli/context.hpp"
#include "cli/json.hpp"
#include "faults/fault.hpp"
#include "os/file_system.hpp"
#include "package/spec.hpp"
#include "state/load.hpp"

namespace shipshape::cli {

namespace {

// The *.toml files directly in ROOT/DIR, as paths relative to ROOT ("states/base.toml");
// none when DIR does not exist.
std::vector<std::string> toml_files(os::FileSystem& fs, const std::string& root,
                                    const std::string& dir) {
    std::vector<std::string> out;
    if (auto names = fs.list_directory(root + "/" + dir)) {
        for (const auto& n : *names) {
            if (n.size() > 5 && n.ends_with(".toml")) {
                out.push_back(dir + "/" + n);
            }
        }
    }
    return out;
}

int run_validate(Context& ctx, const std::vector<std::string>& given) {
    auto fs = os::make_local_file_system();
    std::vector<std::string> files;
    std::vector<std::string> errors;
    std::vector<std::string> warnings;  // "file:line:col: warning: ...": valid, but unsafe
    auto warn = [&](const std::vector<Diagnostic>& found) {
        for (const auto& d : found) {
            warnings.push_back(format_diagnostic(d));
        }
    };
    std::string root;
    if (!ctx.directory.empty()) {
        root = os::path_absolute(ctx.directory, ctx.cwd);
    } else if (auto found = app::find_project_root(ctx.cwd)) {
        root = *found;
    }
    std::vector<std::string> checklists = given;
    if (given.empty()) {
        if (root.empty()) {
            return report_error(ctx, app::find_project_root(ctx.cwd).error());
        }
        files.push_back(root + "/shipshape.toml");
        if (fs->exists(root + "/inventory.toml")) {
            files.push_back(root + "/inventory.toml");
        }
        auto project = app::load_project(root);
        if (!project) {
            errors.push_back(project.error().message());
        } else {
            for (const auto& w : project->inventory.warnings) {
                std::fprintf(stderr, "%s\n", w.c_str());
            }
        }
        if (project) {
            // Who may sign: allowed_signers, signers.toml, and the roles stages ask for.
            for (auto& e : app::validate_release_files(*project, files)) {
                errors.push_back(std::move(e));
            }
        }
        for (const auto& rel : toml_files(*fs, root, "checklists")) {
            checklists.push_back(root + "/" + rel);
        }
    }
    // State files: structure, types, paths, duplicates and conflicts within each file (owners,
    // sources and templates are checked by plan, which knows the target host).
    if (given.empty()) {
        for (const auto& rel : toml_files(*fs, root, "states")) {
            files.push_back(rel);
            auto text = fs->read_file(root + "/" + rel);
            if (!text) {
                errors.push_back(text.error().message());
                continue;
            }
            Diagnostics diags;
            auto resources = state::parse_state(*text, rel, diags);
            state::Accounts any;
            any.any = true;  // owners depend on the host: plan checks them
            state::validate_state(resources, any, diags);
            warn(state::shell_warnings(resources));
            if (!diags.empty()) {
                errors.push_back(diags.to_error().message());
            }
        }
    }
    // Fault profiles: everything the flags would check (paths are checked when a sandbox
    // mounts them, on the machine that runs it).
    if (given.empty()) {
        for (const auto& rel : toml_files(*fs, root, "faults")) {
            files.push_back(rel);
            auto text = fs->read_file(root + "/" + rel);
            if (!text) {
                errors.push_back(text.error().message());
            } else if (auto profile = faults::parse_profile(*text, rel); !profile) {
                errors.push_back(profile.error().message());
            }
        }
    }
    // Package specs: everything but the values that use a template variable (only `package
    // build --set` gives those) and the sources (build resolves them).
    if (given.empty()) {
        for (const auto& rel : toml_files(*fs, root, "packages")) {
            files.push_back(rel);
            auto spec = package::load_package_spec(root + "/" + rel, {},
                                                   package::UnsetVariables::unchecked);
            if (!spec) {
                errors.push_back(spec.error().message());
            }
        }
    }
    for (const auto& c : checklists) {
        std::string path = os::path_absolute(c, ctx.cwd);
        files.push_back(c);
        auto text = fs->read_file(path);
        if (!text) {
            errors.push_back(text.error().message());
            continue;
        }
        auto parsed = checklist::parse_checklist(*text, c);
        if (!parsed) {
            errors.push_back(parsed.error().message());
        } else {
            warn(checklist::shell_warnings(*parsed));
        }
    }
    if (ctx.json) {
        std::printf("%s\n", json_validate(files, errors, warnings).c_str());
        return errors.empty() ? 0 : 2;
    }
    for (const auto& w : warnings) {
        std::fprintf(stderr, "%s\n", w.c_str());
    }
    if (errors.empty()) {
        std::printf("%zu files valid%s\n", files.size(),
                    warnings.empty() ? ""
                                     : (", " + std::to_string(warnings.size()) +
                                        (warnings.size() == 1 ? " warning" : " warnings"))
                                           .c_str());
    } else {
        for (const auto& e : errors) {
            std::fprintf(stderr, "%s\n", e.c_str());
        }
        std::fprintf(stderr, "shipshape: %zu of %zu files invalid\n", errors.size(), files.size());
    }
    return errors.empty() ? 0 : 2;
}

}  // namespace

void add_validate_command(CLI::App& app, std::vector<Command>& out) {
    auto files = std::make_shared<std::vector<std::string>>();
    auto* sub = app.add_subcommand("validate",
                                   "Check definitions (shipshape.toml, inventory.toml, checklists, "
                                   "states, fault profiles, package specs) and "
                                   "run nothing");
    sub->add_option("FILES", *files, "checklists to check (default: the whole ops repo)");
    out.push_back({sub, [files](Context& ctx) { return run_validate(ctx, *files); }});
}

}  // namespace shipshape::cli
