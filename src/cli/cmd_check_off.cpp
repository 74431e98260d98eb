// shipshape check-off RUN STEP --as ROLE: a person confirms a manual step.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/runs.hpp"
#include "cli/context.hpp"
#include "cli/json.hpp"
#include "core/text.hpp"

namespace shipshape::cli {

namespace {

struct CheckOffOptions {
    std::string run;
    std::string step;
    std::string role;
    std::string by;
    std::string note;
    std::string key;
};

int run_check_off(Context& ctx, const CheckOffOptions& o) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    // On a shared store (or with SHIPSHAPE_TOKEN) the token says who checks off: the role must
    // be one of that user's, and the journal records that user, whatever --by says.
    auto who = authenticated_user(ctx, *repo);
    if (!who) {
        return report_error(ctx, who.error());
    }
    std::string by = o.by;
    if (*who) {
        const app::Identity& id = **who;
        if (!id.has_role(o.role)) {
            std::string roles;
            for (const auto& r : id.roles) {
                roles += (roles.empty() ? "" : ", ") + r;
            }
            return report_error(
                ctx, Error(Errc::invalid_argument,
                           "user '" + id.user + "' (SHIPSHAPE_TOKEN) does not hold the role '" +
                               escape_control(o.role) +
                               "' (their roles: " + (roles.empty() ? "none" : roles) + ")"));
        }
        if (!o.by.empty() && o.by != id.user) {
            return report_error(ctx, Error(Errc::invalid_argument,
                                           "--by '" + escape_control(o.by) +
                                               "' is not the user of SHIPSHAPE_TOKEN ('" + id.user +
                                               "'): the journal records the authenticated user"));
        }
        by = id.user;
    }
    app::RunService service(repo->project, *repo->store, *repo->runner, *ctx.cancel);
    // 'last' is the run waiting at this step, never merely the newest run (see --help).
    auto run_id = o.run == "last" ? service.run_waiting_at(o.step) : Result<std::string>(o.run);
    if (!run_id) {
        return report_error(ctx, run_id.error());
    }
    auto r = o.key.empty() ? service.check_off(*run_id, o.step, o.role, by, o.note)
                           : service.signed_check_off(*run_id, o.step, o.role, o.note, o.key);
    if (!r) {
        Error e = r.error();
        // A wrong role is a refused request, not a missing privilege of this machine.
        if (e.code() == Errc::permission_denied) {
            e = Error(Errc::invalid_argument, e.message());
        }
        return report_error(ctx, e);
    }
    const auto& c = r->check_off;
    std::string next = r->live ? "" : "shipshape resume " + c.run_id;
    if (ctx.json) {
        std::printf("%s\n", json_check_off(*r, next).c_str());
        return 0;
    }
    // Everything from the journal or the command line is printed escaped: one record, one row.
    std::printf("checked off step %s of run %s (checklist %s, environment %s) as %s, by %s%s\n",
                escape_control(c.step_id).c_str(), c.run_id.c_str(),
                escape_control(r->checklist_name).c_str(), escape_control(r->env).c_str(),
                escape_control(c.role).c_str(), escape_control(c.by).c_str(),
                c.note.empty() ? "" : (": " + escape_control(c.note)).c_str());
    if (!r->signature_file.empty()) {
        std::printf("signed: wrote %s (commit it to the ops repo)\n", r->signature_file.c_str());
    }
    if (r->live) {
        std::printf(
            "run %s is still running (pid %lld): it continues with the steps that need "
            "%s once its running steps finish\n",
            c.run_id.c_str(), static_cast<long long>(r->pid), escape_control(c.step_id).c_str());
    } else {
        std::printf("continue with: %s\n", next.c_str());
    }
    return 0;
}

}  // namespace

void add_check_off_command(CLI::App& app, std::vector<Command>& out) {
    auto opts = std::make_shared<CheckOffOptions>();
    auto* sub = app.add_subcommand("check-off", "Confirm a manual step of a run, as a named role");
    sub->footer(
        "RUN 'last' means the one run whose STEP is waiting for a check-off, not the newest run;\n"
        "when several runs wait at STEP, check-off lists them and asks for the run id.\n"
        "The confirmation names the run, its checklist and environment. Names (--by, $USER)\n"
        "may not contain control characters; notes may span lines, and are shown escaped.\n"
        "On a PostgreSQL store, or whenever SHIPSHAPE_TOKEN is set, the token's user checks off:\n"
        "--as must be one of that user's roles, and that user is recorded (see 'shipshape user').\n"
        "A missing or invalid SHIPSHAPE_TOKEN there is refused with exit 2.");
    sub->add_option("RUN", opts->run, "run id, or 'last': the run waiting at STEP")->required();
    sub->add_option("STEP", opts->step, "the manual step's id")->required();
    sub->add_option("--as", opts->role, "your role; must match the step's 'role'")->required();
    sub->add_option(
        "--by", opts->by,
        "who you are (default: $USER, or the SHIPSHAPE_TOKEN user); no control characters");
    sub->add_option("--note", opts->note,
                    "a note recorded with the check-off (newlines and tabs allowed)");
    sub->add_option("--key,-k", opts->key,
                    "sign the check-off with this OpenSSH key (ssh-keygen -Y sign; required by "
                    "steps with signed = true): the key's principal in allowed_signers, holding "
                    "the role in signers.toml, is recorded");
    out.push_back({sub, [opts](Context& ctx) { return run_check_off(ctx, *opts); }});
}

}  // namespace shipshape::cli
