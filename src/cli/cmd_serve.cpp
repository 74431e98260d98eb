// shipshape serve: the team server's read-only JSON API over the project's store, or with
// --print-systemd-unit the unit file that runs it as a service.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <limits.h>
#include <cstdio>
#include <optional>

#include "cli/context.hpp"
#include "os/self_exe.hpp"
#include "server/api.hpp"
#include "server/event_feed.hpp"
#include "server/http.hpp"
#include "server/listen.hpp"

#ifndef SHIPSHAPE_VERSION
#define SHIPSHAPE_VERSION "0.0.0"
#endif

namespace shipshape::cli {

namespace {

struct ServeOptions {
    std::string listen = std::string(server::k_default_listen);
    bool print_unit = false;
    std::string tls_cert;
    std::string tls_key;
};

constexpr const char* k_serve_help =
    "Serve the project's runs over HTTP as JSON, read-only. Routes today:\n"
    "  GET /api/v1/health                       server, version and store status\n"
    "  GET /api/v1/runs?env=&checklist=&status=&limit=   runs, newest first\n"
    "  GET /api/v1/runs/ID                      one run with its steps\n"
    "  GET /api/v1/runs/ID/steps/STEP/log       a step's log (redacted as written)\n"
    "  GET /api/v1/events?run=&after=           live runs, steps and log lines (SSE)\n"
    "  GET /api/v1/openapi.json                 the OpenAPI document of these routes\n"
    "  GET /api/v1/board?env=&checklist=        the dashboard's Kanban board\n"
    "  GET /api/v1/environments                 hosts: version, drift, requirements, facts\n"
    "  GET /api/v1/history?checklist=&days=     runs, failures, durations per day\n"
    "  GET /api/v1/releases                     releases by stage: gates, sign-offs, who is "
    "missing\n"
    "  GET /api/v1/ci/pipelines?ref=&commit=&status=&limit=   CI pipelines, newest first\n"
    "  GET /api/v1/ci/pipelines/ID              one pipeline: jobs, failing tests, faults\n"
    "  GET /api/v1/hosts/reports                every pulling host's newest report\n"
    "  GET /api/v1/hosts/HOST/reports?limit=    a host's reports, newest first\n"
    "  GET /                                    the dashboard (a page in the browser)\n"
    "  GET /api/v1/me                           who the Bearer token belongs to (token)\n"
    "  POST /api/v1/runs/ID/steps/STEP/check-off   check off a waiting step (token, role)\n"
    "  POST /api/v1/ci/pipelines/ID/cancel      cancel a pipeline (token; admin, dev or ops)\n"
    "  POST /api/v1/hosts/HOST/reports          a pulling host's report (token; role host and\n"
    "                                           the host's name, or admin)\n"
    "Reads need no authentication: anyone who reaches the address can read every run.\n"
    "Writes need 'Authorization: Bearer TOKEN' of a user holding the step's role (see\n"
    "'shipshape user'); 10 failed authentications from one address in 60 s get 429. It listens on\n"
    "127.0.0.1 unless --listen names another address. With --tls-cert and --tls-key it\n"
    "serves HTTPS only. Stops on SIGINT/SIGTERM (exit 0).";

std::string store_kind(const std::string& location) {
    return location.starts_with("postgresql://") || location.starts_with("postgres://")
               ? "postgresql"
               : "sqlite";
}

// The directories the service writes: the state directory, and the SQLite file's own
// directory when the store lives elsewhere.
std::vector<std::string> writable_dirs(const app::Project& project) {
    std::vector<std::string> dirs{project.state_dir()};
    std::string loc = project.store_location();
    if (store_kind(loc) == "sqlite") {
        if (loc.starts_with("sqlite:")) {
            loc = loc.substr(7);
        }
        std::string dir = loc.substr(0, loc.rfind('/'));
        if (!dir.empty() && dir.front() == '/' && dir != project.state_dir() &&
            !dir.starts_with(project.state_dir() + "/")) {
            dirs.push_back(dir);
        }
    }
    return dirs;
}

// A path given on the command line, made absolute against the working directory.
std::string absolute(const Context& ctx, const std::string& path) {
    return path.empty() || path.front() == '/' ? path : ctx.cwd + "/" + path;
}

int print_unit(Context& ctx, const ServeOptions& o, const server::ListenAddress& where) {
    auto repo = open_repo(ctx, NeedStore::no);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto unit =
        server::systemd_unit({os::self_exe(), repo->project.root, writable_dirs(repo->project),
                              where.text(), absolute(ctx, o.tls_cert), absolute(ctx, o.tls_key)});
    if (!unit) {
        return report_error(ctx, unit.error());
    }
    std::fputs(unit->c_str(), stdout);
    return 0;
}

int run_serve(Context& ctx, const ServeOptions& o) {
    auto where = server::parse_listen(o.listen);
    if (!where) {
        return report_error(ctx, where.error());
    }
    if (o.print_unit) {
        return print_unit(ctx, o, *where);
    }
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    if (!where->loopback) {
        std::fprintf(stderr,
                     "warning: listening on %s, not a loopback address: reads need no "
                     "authentication, so anyone who can reach it can read every run\n",
                     where->text().c_str());
    }
    server::Api api(repo->project, *repo->store, *repo->runner, *ctx.cancel,
                    {SHIPSHAPE_VERSION, store_kind(store_location(ctx, repo->project))});
    std::optional<server::TlsFiles> tls;
    if (!o.tls_cert.empty()) {
        tls = server::TlsFiles{o.tls_cert, o.tls_key};
    }
    // One thread watches the store for the event stream and fans out to every client.
    server::EventHub hub;
    auto feed = server::StoreEventFeed::open(*repo->store, hub);
    if (!feed) {
        return report_error(ctx, feed.error());
    }
    (*feed)->start();
    const server::LiveEvents events{hub, **feed};
    auto served = server::serve_http(
        api, *where, tls, *ctx.cancel,
        [](const std::string& url) {
            // The first line of stdout, so that scripts (and tests with port 0) can read it.
            std::printf("listening on %s\n", url.c_str());
            std::fflush(stdout);
        },
        &events);
    (*feed)->stop();
    if (!served) {
        return report_error(ctx, served.error());
    }
    // A stop signal is how a server ends: nothing is left half done, so this is success.
    std::fprintf(stderr, "shipshape serve: stopped\n");
    return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, std::vector<Command>& out) {
    auto o = std::make_shared<ServeOptions>();
    auto* sub = app.add_subcommand("serve", "Serve runs over a read-only JSON API (no auth yet)");
    sub->footer(k_serve_help);
    sub->add_option("--listen", o->listen,
                    "HOST:PORT to listen on (default 127.0.0.1:8686; port 0 picks a free one)")
        ->option_text("ADDR");
    auto* cert = sub->add_option("--tls-cert", o->tls_cert,
                                 "serve HTTPS with this PEM certificate (chain); needs --tls-key")
                     ->option_text("FILE")
                     ->check(CLI::ExistingFile);
    auto* key =
        sub->add_option("--tls-key", o->tls_key, "the unencrypted PEM private key of --tls-cert")
            ->option_text("FILE")
            ->check(CLI::ExistingFile);
    cert->needs(key);
    key->needs(cert);
    sub->add_flag("--print-systemd-unit", o->print_unit,
                  "print a systemd unit running this server for the project, and exit");
    out.push_back({sub, [o](Context& ctx) { return run_serve(ctx, *o); }});
}

}  // namespace shipshape::cli
