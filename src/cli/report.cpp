// What every command (and the agent's) prints the same way: errors for people or scripts,
// counts with their nouns, times, fan-out progress. No store, no repo: shipshape-agent links it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "app/secrets.hpp"
#include "cli/context.hpp"
#include "cli/exit_code.hpp"
#include "cli/json.hpp"
#include "core/redact.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

std::string plural(size_t n, const std::string& one, const std::string& many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string format_local_time(int64_t ms) {
    std::time_t secs = ms / 1000;
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

int report_error(const Context& ctx, const Error& error) {
    const int code = to_int(exit_code_for(error.code()));
    if (ctx.json) {
        std::printf("%s\n", json_error(error, code).c_str());
        std::fflush(stdout);
    } else {
        const std::string& m = error.message();
        if (m.find('\n') != std::string::npos) {
            // Several diagnostics: one per line, each already "file:line:col: message".
            std::fprintf(
                stderr, "shipshape: %s\n",
                error.code() == Errc::invalid_definition ? "invalid definition:" : "error:");
            size_t start = 0;
            while (start < m.size()) {
                size_t nl = m.find('\n', start);
                if (nl == std::string::npos) {
                    nl = m.size();
                }
                std::fprintf(stderr, "  %.*s\n", static_cast<int>(nl - start), m.data() + start);
                start = nl + 1;
            }
        } else {
            std::fprintf(stderr, "shipshape: %s\n", m.c_str());
        }
    }
    return code;
}

app::ProgressFn fanout_progress(const Context& ctx) {
    if (ctx.json || ::isatty(STDERR_FILENO) == 0) {
        return {};
    }
    return [](const app::FanoutCounts& c) {
        std::fprintf(stderr, "\r\033[K  %s: %zu/%zu done", c.what.c_str(), c.done, c.total);
        if (c.failed) {
            std::fprintf(stderr, ", %zu failed", c.failed);
        }
        if (c.running) {
            std::fprintf(stderr, ", %zu running", c.running);
        }
        if (c.done == c.total) {
            std::fputs("\r\033[K", stderr);
        }
        std::fflush(stderr);
    };
}

Result<app::Project> open_project(const Context& ctx) {
    std::string root;
    if (!ctx.directory.empty()) {
        root = os::path_absolute(ctx.directory, ctx.cwd);
        if (!os::make_local_file_system()->exists(root + "/shipshape.toml")) {
            return fail(Errc::not_found, "no shipshape.toml in '" + root +
                                             "' (given with -C): run 'shipshape init " +
                                             ctx.directory + "' to create an ops repo there");
        }
    } else {
        auto found = app::find_project_root(ctx.cwd);
        if (!found) {
            return fail(found.error());
        }
        root = *found;
    }
    auto project = app::load_project(root);
    if (!project) {
        return fail(project.error());
    }
    // Still redacted (hiding too much never leaks), but the output is then hard to read.
    for (const auto& name : app::short_secrets(*project)) {
        std::fprintf(stderr,
                     "warning: secret %s holds fewer than %zu characters: every occurrence of "
                     "its value in output, logs and the journal becomes ***\n",
                     name.c_str(), Redactor::k_min_safe_length);
    }
    return project;
}

}  // namespace shipshape::cli
