// How a run looks to people: a live view on a terminal (one line per running step with its
// elapsed time and last output line, finished steps scrolling above), plain timestamped lines
// elsewhere, and the summary printed when a run stops.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "app/runs.hpp"
#include "checklist/engine.hpp"
#include "cli/context.hpp"

namespace shipshape::cli {

// The observer for a run: JSON lines with --json, live view on a tty, else plain lines.
// Call `close()` on the returned view (via finish_view) before printing anything else.
class RunView : public checklist::RunObserver {
  public:
    // Stops any live redrawing and clears the live region.
    virtual void close() {}
};

std::unique_ptr<RunView> make_run_view(const Context& ctx);

// A run's parameters as "k=v k2=v2", each escaped (core/text.hpp escape_control): journal text
// printed on one row.
std::string format_params(const std::vector<std::pair<std::string, std::string>>& params);

// Maps a report to the exit code (0 done, 1 failed, 4 waiting, 130 interrupted).
int exit_code_for(const app::RunReport& report);

// Prints the closing summary of a run, resume or undo (or its JSON document).
void print_run_summary(const Context& ctx, const app::RunReport& report, std::string_view verb);

// What `--wait` and `--wait-timeout DURATION` ask of a run: wait for check-offs, telling the
// user once per wait which steps wait for which role (on stdout; stderr with --json).
// Errc::invalid_argument for a bad duration, or a timeout without --wait.
[[nodiscard]] Result<app::WaitOptions> wait_options(const Context& ctx, bool wait,
                                                    const std::string& timeout);

using StoredRunAction = std::function<Result<app::RunReport>(
    app::RunService& service, const std::string& run_id, checklist::RunObserver& observer)>;

// The body of resume and undo: opens the run named `id` ("last" allowed), performs `action`
// under the run view, prints the summary and returns the exit code.
int drive_stored_run(Context& ctx, const std::string& id, std::string_view verb,
                     const StoredRunAction& action);

}  // namespace shipshape::cli
