// shipshape package diff A B [--stat] [--full] [--json]: the upgrade review. Each side is a .deb,
// a manifest file, NAME@HOST or NAME@env:ENV (the version installed there). Exits like diff(1):
// 0 the same, 1 different, 2 or more when a side cannot be had.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

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
    std::string label;  // as shown: the path, or "booking@web1"
};

Result<Side> load_side(const std::string& spec) {
    // A file wins over NAME@HOST: "x@y.deb" may well be a file name.
    auto m = package::load_package_file(spec);
    if (m) {
        return Side{std::move(*m), spec};
    }
    if (m.error().code() != Errc::not_found || spec.find('@') == std::string::npos) {
        return fail(m.error());
    }
    return fail(Errc::unsupported, "'" + spec +
                                       "': the installed side (NAME@HOST, NAME@env:ENV) is not "
                                       "supported yet; give a .deb or a manifest file");
}

// Errors exit 2 or more: 1 means "different", as for diff(1).
int report_side_error(const Context& ctx, const Error& e) {
    return std::max(report_error(ctx, e), to_int(ExitCode::usage));
}

int run_diff(Context& ctx, const DiffOptions& o) {
    // Both sides at once: reading a .deb is mostly decompressing and hashing, one core each.
    std::vector<std::optional<Result<Side>>> sides(2);
    const std::string* specs[] = {&o.a, &o.b};
    os::fan_out(2, 2, [&](size_t i) { sides[i] = load_side(*specs[i]); });
    for (const auto& side : sides) {
        if (!*side) {
            return report_side_error(ctx, side->error());
        }
    }
    const Side* a = &**sides[0];
    const Side* b = &**sides[1];
    const package::PackageDiff diff = package::diff_manifests(a->manifest, b->manifest);
    if (ctx.json) {
        std::fputs(package::diff_to_json(diff).c_str(), stdout);
    } else {
        PackageDiffView view{a->label, b->label, o.stat, o.full, ctx.color};
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
    sub->add_option("A", opts->a, "the old side: FILE.deb or FILE.manifest.json")->required();
    sub->add_option("B", opts->b, "the new side, like A")->required();
    sub->add_flag("--stat", opts->stat, "print only the summary");
    sub->add_flag("--full", opts->full, "do not fold long lists and diffs");
    out.push_back({sub, [opts](Context& ctx) { return run_diff(ctx, *opts); }});
}

}  // namespace shipshape::cli
