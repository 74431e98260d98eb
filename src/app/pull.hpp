// Pull mode (#20): a host converges itself from the ops repo on a timer, the way CFEngine and
// Puppet agents do, and reports to the store (docs/specs/pull-report.md). One cycle:
//
//   1. fetch BRANCH of the repo with the git CLI into WORK/repo.git (shallow) and check its
//      commit out into WORK/trees/COMMIT (a private index: nothing else is touched);
//   2. load that commit's project, find this host in its inventory (by --host, else the
//      hostname, else one of the machine's addresses) and load and plan its roles' state. When
//      any of it is invalid the cycle is `invalid` (exit 2) and the host converges to the LAST
//      GOOD commit instead (WORK/last-good), so a broken commit changes nothing on the host;
//   3. apply the state, then check drift (what still differs after the apply);
//   4. gather facts and send one report: `converged` (exit 0), `failed` (exit 1: the apply
//      failed, drift remains, or the fetch failed) or `invalid` (exit 2).
//
// Reports go through a PullReporter. A report is first written to WORK/spool/RUN.json and
// removed once delivered; undelivered reports (the server was down) are sent again, oldest
// first, at the start of the next cycle. The store keeps one report per (host, commit, run), so
// a report sent twice is counted once.
//
// Two cycles never overlap: WORK/lock is held (flock) for the whole cycle, and a second pull
// fails at once naming the holder's pid.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/pull_reports.hpp"
#include "core/clock.hpp"
#include "core/duration.hpp"
#include "core/error.hpp"
#include "core/template.hpp"
#include "os/process.hpp"

namespace shipshape::app {

struct PullOptions {
    std::string repo;             // a git URL or path
    std::string branch = "main";  // the branch to follow
    std::string host;             // the inventory's name for this host; "" finds it
    std::string work_dir;         // "": default_pull_dir()
    std::string root = "/";       // apply under this root (tests, images)
    Variables params;             // --set, as for apply
};

// /var/lib/shipshape/pull for root, else ~/.cache/shipshape/pull.
std::string default_pull_dir();

// What one cycle did: the report's fields (docs/specs/pull-report.md) plus what a view prints.
struct PullCycle {
    // What is sent (app/pull_reports.hpp): host, commit, result, apply counts, drift, facts.
    // `report.host` is the host's name in the inventory once it is found (the hostname before).
    PullReport report;
    std::vector<std::string> notes;  // for people: "kept 3f2a… (last good)"
    bool reported = false;           // delivered (or no reporter)
    std::string report_error;        // why not
};

// The "host" of a report document ("" when it has none): spooled reports are sent for it.
std::string pull_report_host(const std::string& report_json);

// Delivers one report document of `host`; Errc::unreachable or Errc::io when it may succeed
// later (the report stays spooled), Errc::invalid_argument or Errc::permission_denied when it
// never will (the report is dropped from the spool, with the reason).
using PullReporter = std::function<Status(const std::string& host, const std::string& report_json)>;

// POST /api/v1/hosts/{host}/reports of the server at http://HOST[:PORT][/PREFIX], with
// `token` as its Bearer token. Errc::invalid_argument for a URL that is not http:// (the static
// agent has no TLS: see docs/agent.md).
[[nodiscard]] Result<PullReporter> http_pull_reporter(const std::string& url,
                                                      const std::string& token);

class PullService {
  public:
    // `runner` runs git and the apply's commands.
    PullService(PullOptions options, os::ProcessRunner& runner, const os::CancelSource* cancel,
                const Clock& clock = system_clock());

    // One cycle; `reporter` may be empty (nothing is sent). Fails as a whole only when the
    // work directory cannot be made or locked (Errc::conflict names the other pull's pid);
    // everything else is in the cycle (its exit code).
    [[nodiscard]] Result<PullCycle> run_once(const PullReporter& reporter);

    // The host the cycle would report as, for reporters built before the first cycle: --host,
    // else the hostname.
    std::string host_hint() const;

  private:
    struct Tree;
    [[nodiscard]] Result<std::string> fetch(PullCycle& cycle);
    [[nodiscard]] Result<std::string> checkout(const std::string& commit);
    void converge(PullCycle& cycle, const std::string& tree_dir, bool* valid);
    void send_spooled(const PullReporter& reporter, PullCycle& cycle);
    [[nodiscard]] Result<os::ProcessOutcome> git(const std::vector<std::string>& args,
                                                 std::string* out, std::string* err);
    void prune_trees(const std::vector<std::string>& keep) const;

    PullOptions m_options;
    os::ProcessRunner& m_runner;
    const os::CancelSource* m_cancel;
    const Clock& m_clock;
};

// The systemd units that run `BINARY agent pull --once ARGS` every `every` with up to `splay`
// of random delay (OnUnitActiveSec, RandomizedDelaySec). `args` are the pull's own options,
// each quoted for systemd. Pure.
struct TimerUnits {
    std::string service;  // shipshape-pull.service
    std::string timer;    // shipshape-pull.timer
};
TimerUnits pull_timer_units(const std::string& binary, const std::vector<std::string>& args,
                            Millis every, Millis splay);

}  // namespace shipshape::app
