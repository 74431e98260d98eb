// shipshape image run IMG [--limits prod|none] [--network none|host] [--hostname H]
// [--bind SRC:DST[:rw]]… -- CMD…: run a command in an image's root filesystem (throwaway
// overlay upper: the image is never modified) and exit with its status.
#include <CLI/CLI.hpp>

#include <cstdlib>

#include "app/image_run.hpp"
#include "cli/context.hpp"
#include "cli/image_cmds.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

namespace {

struct ImageRunCliOptions {
    std::string image;
    std::string limits = "prod";
    std::string network = "none";
    std::string hostname;
    std::vector<std::string> binds;
    std::vector<std::string> command;
};

int run_image_run(Context& ctx, ImageRunCliOptions o) {
    if (!o.command.empty() && o.command.front() == "--") {
        o.command.erase(o.command.begin());
    }
    if (o.command.empty()) {
        return report_error(
            ctx, Error(Errc::invalid_argument, "give the command after --: image run IMG -- CMD…"));
    }
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::ImageRunOptions r;
    r.image = o.image;
    r.limits = o.limits == "none" ? app::ImageLimits::none : app::ImageLimits::image;
    r.network = o.network == "host" ? os::ContainerNetwork::host : os::ContainerNetwork::none;
    r.hostname = o.hostname;
    r.argv = o.command;
    for (const auto& text : o.binds) {
        auto b = app::parse_bind(text);
        if (!b) {
            return report_error(ctx, b.error());
        }
        b->source = os::path_absolute(b->source, ctx.cwd);
        r.binds.push_back(*b);
    }
    if (const char* term = std::getenv("TERM")) {
        r.env.push_back(std::string("TERM=") + term);
    }
    auto status = app::run_in_image(app::images_dir(repo->project.root), r);
    if (!status) {
        return report_error(ctx, status.error());
    }
    return *status;
}

}  // namespace

void add_image_run(CLI::App& image, std::vector<Command>& out) {
    auto opts = std::make_shared<ImageRunCliOptions>();
    auto* sub = image.add_subcommand(
        "run", "Run a command in an image (its own namespaces, a throwaway overlay on the image)");
    sub->add_option("IMAGE", opts->image, "image name, id or id prefix")->required();
    sub->add_option("COMMAND", opts->command, "the command and its arguments, after --");
    sub->add_option("--limits", opts->limits,
                    "prod: the image's recorded memory, CPU and open-file limits (default); "
                    "none: no limits")
        ->check(CLI::IsMember({"prod", "none"}));
    sub->add_option("--network", opts->network,
                    "none: only lo (default); host: this machine's network")
        ->check(CLI::IsMember({"none", "host"}));
    sub->add_option("--hostname", opts->hostname,
                    "the hostname inside (default: the image's name)");
    sub->add_option("--bind", opts->binds,
                    "bind SRC (here) at DST (inside), read-only; SRC:DST:rw for writable")
        ->option_text("SRC:DST")
        ->allow_extra_args(false);
    sub->footer(
        "\nExamples:\n  shipshape image run prod -- make test\n  shipshape image run prod "
        "--bind .:/src:rw -- sh -c 'cd /src && ./run-tests'\n\nExits with the command's status "
        "(128+N when signal N ended it); 3 when this machine cannot make containers.");
    out.push_back({sub, [opts](Context& ctx) { return run_image_run(ctx, *opts); }});
}

}  // namespace shipshape::cli
