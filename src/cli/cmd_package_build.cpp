// shipshape package build SPEC [--set k=v]... [-o DIR] [--compression zstd|xz|gzip|none]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "package/build.hpp"
#include "package/spec.hpp"

namespace shipshape::cli {

namespace {

struct BuildOptions {
    std::string spec;
    std::vector<std::string> sets;
    std::string out_dir = ".";
    std::string compression = "zstd";
};

// SOURCE_DATE_EPOCH (reproducible-builds.org): a decimal count of seconds, else an error.
Result<std::optional<int64_t>> source_date_epoch() {
    const char* text = std::getenv("SOURCE_DATE_EPOCH");
    if (text == nullptr || *text == '\0') {
        return std::optional<int64_t>{};
    }
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0) {
        return fail(
            Errc::invalid_argument,
            std::string("SOURCE_DATE_EPOCH must be a number of seconds, found '") + text + "'");
    }
    return std::optional<int64_t>{static_cast<int64_t>(v)};
}

int run_build(Context& ctx, const BuildOptions& o) {
    std::vector<std::pair<std::string, std::string>> params;
    for (const auto& kv : o.sets) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            return report_error(
                ctx, Error(Errc::invalid_argument, "--set '" + kv + "': expected NAME=VALUE"));
        }
        params.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    package::BuildOptions options;
    options.out_dir = o.out_dir;
    auto compression = package::parse_compression(o.compression);
    if (!compression) {
        return report_error(ctx, Error(Errc::invalid_argument,
                                       "--compression must be zstd, xz, gzip or none, found '" +
                                           o.compression + "'"));
    }
    options.compression = *compression;
    auto epoch = source_date_epoch();
    if (!epoch) {
        return report_error(ctx, epoch.error());
    }
    options.source_date_epoch = *epoch;
    auto spec = package::load_package_spec(o.spec, params);
    if (!spec) {
        return report_error(ctx, spec.error());
    }
    auto built = package::build_package(*spec, options);
    if (!built) {
        return report_error(ctx, built.error());
    }
    if (ctx.json) {
        std::printf("%s\n", package::build_result_json(*built).c_str());
    } else {
        std::printf("built %s (%zu files, manifest %s)\n", built->deb_path.c_str(),
                    built->manifest.files.size(), built->manifest_path.c_str());
    }
    return 0;
}

}  // namespace

void add_package_build(CLI::App& package, std::vector<Command>& out) {
    auto opts = std::make_shared<BuildOptions>();
    auto* sub = package.add_subcommand(
        "build",
        "Build a Debian package (NAME_VERSION_ARCH.deb) and its manifest "
        "(NAME_VERSION_ARCH.manifest.json) from a package spec; reproducible under "
        "SOURCE_DATE_EPOCH");
    sub->add_option("spec", opts->spec, "the package spec (TOML, docs/specs/package-spec.md)")
        ->required();
    sub->add_option("--set,-s", opts->sets, "set a template parameter: NAME=VALUE (repeatable)");
    sub->add_option("--output,-o", opts->out_dir,
                    "directory to write the .deb and the manifest to (default: .)");
    sub->add_option("--compression", opts->compression,
                    "payload compression: zstd (default), xz, gzip or none");
    out.push_back({sub, [opts](Context& ctx) { return run_build(ctx, *opts); }});
}

}  // namespace shipshape::cli
