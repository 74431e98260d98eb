// shipshape audit log|verify|export: the hash-chained audit ledger (#17; docs/specs/audit.md).
// `log` lists entries, `verify` recomputes the chain of the store or of an export file (exit 0
// intact, 1 naming the first bad entry, 2 when it cannot be read or the usage is wrong), and
// `export` writes the ledger as JSON lines.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "app/audit.hpp"
#include "cli/audit_view.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"
#include "core/text.hpp"
#include "core/wall_ms.hpp"

namespace shipshape::cli {

namespace {

constexpr size_t k_detail_width = 60;

struct LogOptions {
    std::string since;
    size_t limit = 50;
};

// `text` escaped onto one row and cut to `width` bytes (never inside a UTF-8 sequence).
std::string shorten(const std::string& text, size_t width) {
    std::string s = escape_control(text);
    if (s.size() <= width) {
        return s;
    }
    size_t cut = width - 1;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) {
        --cut;
    }
    return s.substr(0, cut) + "\u2026";
}

std::string absolute(const Context& ctx, const std::string& path) {
    return path.starts_with("/") ? path : ctx.cwd + "/" + path;
}

int run_log(Context& ctx, const LogOptions& options) {
    app::AuditQuery query;
    query.limit = options.limit;
    if (!options.since.empty()) {
        auto parsed = app::parse_audit_since(options.since, wall_ms(), query);
        if (!parsed) {
            return report_error(ctx, parsed.error());
        }
        query = *parsed;
    }
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto entries = app::list_audit(*repo->store, query);
    if (!entries) {
        return report_error(ctx, entries.error());
    }
    if (ctx.json) {
        std::printf("%s\n", app::audit_log_json(*entries).c_str());
        return 0;
    }
    if (entries->empty()) {
        std::printf(options.since.empty() ? "the audit ledger is empty\n" : "no entries match\n");
        return 0;
    }
    std::printf("%-7s %-19s %-13s %-10s %-28s %s\n", "SEQ", "TIME", "KIND", "ACTOR", "SUBJECT",
                "DETAIL");
    for (const auto& e : *entries) {
        std::printf("%-7lld %-19s %-13s %-10s %-28s %s\n", static_cast<long long>(e.seq),
                    format_local_time(e.at).c_str(), shorten(e.kind, 13).c_str(),
                    shorten(e.actor, 10).c_str(), shorten(e.subject, 28).c_str(),
                    shorten(e.detail, k_detail_width).c_str());
    }
    return 0;
}

// verify's own exit code for anything but a verdict: 2 (1 means "the chain is broken").
int report_unverified(const Context& ctx, const Error& error) {
    const int code = to_int(ExitCode::usage);
    if (ctx.json) {
        std::printf("%s\n", json_error(error, code).c_str());
    } else {
        std::fprintf(stderr, "shipshape: %s\n", error.message().c_str());
    }
    return code;
}

int run_verify(Context& ctx, const std::string& file) {
    Result<app::AuditVerdict> verdict = fail(Errc::internal, "not verified");
    std::string source;
    if (!file.empty()) {
        source = file;
        verdict = app::verify_audit_file(absolute(ctx, file));
    } else {
        auto repo = open_repo(ctx);
        if (!repo) {
            return report_unverified(ctx, repo.error());
        }
        source = "store";
        verdict = app::verify_audit(*repo->store);
    }
    if (!verdict) {
        return report_unverified(ctx, verdict.error());
    }
    // An export's lines are named as the user gave the file.
    if (!file.empty() && !verdict->where.empty()) {
        verdict->where = file + verdict->where.substr(verdict->where.rfind(':'));
    }
    if (ctx.json) {
        std::printf("%s\n", app::audit_verify_json(*verdict, source).c_str());
        return to_int(verdict->intact() ? ExitCode::done : ExitCode::failed);
    }
    if (verdict->intact()) {
        if (verdict->count == 0) {
            std::printf("audit chain intact: 0 entries (the ledger is empty)\n");
        } else {
            std::printf("audit chain intact: %lld entries, head #%lld %s\n",
                        static_cast<long long>(verdict->count),
                        static_cast<long long>(verdict->head_seq), verdict->head_hash.c_str());
        }
        return to_int(ExitCode::done);
    }
    const std::string where = verdict->where.empty() ? "" : verdict->where + ": ";
    std::printf("audit chain broken: %s%s\n", where.c_str(),
                escape_control(verdict->problem->message).c_str());
    if (verdict->count > 0) {
        std::printf("  the %lld entries before it are intact (up to #%lld %s)\n",
                    static_cast<long long>(verdict->count),
                    static_cast<long long>(verdict->head_seq), verdict->head_hash.c_str());
    }
    return to_int(ExitCode::failed);
}

int run_export(Context& ctx, const std::string& file) {
    auto repo = open_repo(ctx);
    if (!repo) {
        return report_error(ctx, repo.error());
    }
    auto exported = app::export_audit(*repo->store, absolute(ctx, file));
    if (!exported) {
        return report_error(ctx, exported.error());
    }
    if (ctx.json) {
        std::printf("%s\n", app::audit_export_json(*exported, file).c_str());
        return 0;
    }
    std::printf("exported %lld audit entries to %s", static_cast<long long>(exported->count),
                file.c_str());
    if (exported->count > 0) {
        std::printf(", head #%lld %s", static_cast<long long>(exported->head_seq),
                    exported->head_hash.c_str());
    }
    std::printf("\n");
    return 0;
}

}  // namespace

void add_audit_commands(CLI::App& app, std::vector<Command>& out) {
    auto* audit = app.add_subcommand(
        "audit",
        "The hash-chained audit ledger: runs, steps, check-offs, sign-offs, releases, applies, "
        "drift findings, lock takeovers");
    audit->require_subcommand(1);

    auto log = std::make_shared<LogOptions>();
    auto* log_cmd = audit->add_subcommand(
        "log",
        "Show the ledger's newest entries, oldest first: seq, time, kind, actor, subject, "
        "detail");
    log_cmd->add_option("--since", log->since,
                        "from this entry number on (1200), or this far back (2h, 7d)");
    log_cmd
        ->add_option("--limit,-n", log->limit, "at most this many, the newest (default 50; 0: all)")
        ->check(CLI::Range(0, 1000000000));
    out.push_back({log_cmd, [log](Context& ctx) { return run_log(ctx, *log); }});

    auto file = std::make_shared<std::string>();
    auto* verify = audit->add_subcommand(
        "verify",
        "Recompute the chain: exit 0 when intact, 1 naming the first edited, deleted, reordered "
        "or inserted entry, 2 when it cannot be read");
    verify->add_option("--file", *file,
                       "verify this export (audit export) instead of the store; no store needed");
    out.push_back({verify, [file](Context& ctx) { return run_verify(ctx, *file); }});

    auto target = std::make_shared<std::string>();
    auto* exp = audit->add_subcommand(
        "export",
        "Write the ledger as JSON lines (docs/specs/audit.md), to commit or keep elsewhere; "
        "check it later with 'audit verify --file FILE'");
    exp->add_option("FILE", *target, "the file to write (replaced atomically)")->required();
    out.push_back({exp, [target](Context& ctx) { return run_export(ctx, *target); }});
}

}  // namespace shipshape::cli
