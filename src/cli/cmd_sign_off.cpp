// shipshape sign-off RELEASE --stage STAGE --as ROLE [--key KEY] [--note TEXT]: a signed
// approval of exactly this release's content for one stage, in one role.
#include <CLI/CLI.hpp>

#include <memory>

#include "app/release_service.hpp"
#include "cli/context.hpp"
#include "cli/release_view.hpp"

namespace shipshape::cli {

namespace {

int run_sign_off(Context& ctx, const app::SignOffRequest& request) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    app::ReleaseService service(repo->project, repo->store.get(), *repo->runner);
    auto done = service.sign_off(request);
    if (!done) {
        return report_error(ctx, done.error());
    }
    print_sign_off(ctx, *done);
    return 0;
}

}  // namespace

void add_sign_off_command(CLI::App& app, std::vector<Command>& out) {
    auto o = std::make_shared<app::SignOffRequest>();
    auto* sub = app.add_subcommand(
        "sign-off",
        "Sign off a release for a stage in a role, with your OpenSSH key (ssh-keygen -Y sign: "
        "ssh-agent and hardware keys work); writes signoffs/NAME/… for git review");
    sub->add_option("RELEASE", o->release, "NAME (its newest id) or ID")->required();
    sub->add_option("--stage", o->stage, "the stage it approves, e.g. prod")->required();
    sub->add_option("--as", o->role, "the role you sign as (signers.toml), e.g. qa")->required();
    sub->add_option("--key,-k", o->key,
                    "your private key file (or a .pub whose private half ssh-agent holds); "
                    "default: ssh-agent's first key");
    sub->add_option("--note", o->note, "a note kept with the signature");
    out.push_back({sub, [o](Context& ctx) { return run_sign_off(ctx, *o); }});
}

}  // namespace shipshape::cli
