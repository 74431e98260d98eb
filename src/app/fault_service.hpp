// FaultService: the use case behind `shipshape fault` — the faults a request asks for (profiles
// by path or by name in the ops repo, flags), a sandbox that runs one command under them, and
// the cleanup of what killed runs left behind (told by the sandboxes' records, never by names).
// Works on this machine only, with or without an ops repo (a profile by name needs one; paths and
// flags do not).
//
// It has its own CMake target (shipshape_app_faults), linked only into `shipshape-fault`: the
// fault libraries it pulls in (libnftables, libfuse3, libnetfilter_queue) must stay out of
// `shipshape`, whose start-up every command and every remote agent pays.
//
// Threading: one call at a time. Cancellation: a stop asked through `cancel` while the command
// runs interrupts it (SIGINT, then SIGTERM, then SIGKILL; see faults::Control) and the run
// still returns its report.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "faults/fault.hpp"
#include "faults/sandbox.hpp"

namespace shipshape::os {
class CancelSource;
}

namespace shipshape::app {

struct FaultRequest {
    std::vector<std::string> profiles;  // a file, or NAME for faults/NAME.toml in the ops repo
    std::vector<std::pair<faults::FaultKind, std::string>> flags;  // in command-line order
    std::string reset_after;  // --reset-after BYTES, only with port
    std::string port;         // --port PORT, only with reset_after
    std::string directory;    // -C DIR: the ops repo profile names are looked up in
    std::string cwd;          // absolute; relative profile paths and the repo search start here
};

struct FaultRun {
    faults::Report report;
    int status = 0;            // the command's status as a shell gives it; 0 without a command
    bool interrupted = false;  // the user asked to stop (the cancel source fired)
};

class FaultService {
  public:
    // The faults of `request`, profiles first, validated as one set. Errc::invalid_argument
    // for a bad flag or set, Errc::invalid_definition for a bad profile, Errc::not_found for a
    // profile name with no file (or no ops repo to look in).
    [[nodiscard]] Result<std::vector<faults::Fault>> collect(const FaultRequest& request) const;

    // Starts a sandbox with `faults`, runs `command` in it (none: only sets the faults up and
    // tears them down, a check) and returns the final report. Errc::unsupported when this
    // machine cannot provide a fault, Errc::not_found when the command cannot be run.
    [[nodiscard]] Result<FaultRun> run(const std::vector<faults::Fault>& faults,
                                       const std::vector<std::string>& command,
                                       const os::CancelSource* cancel) const;

    // Removes what killed runs recorded as their own (memory cgroups) and nothing else: live
    // sandboxes and cgroups no record names are only reported.
    faults::CleanupReport cleanup() const;

    // Where a profile named on the command line is: `name` itself when it is a path (it
    // exists, has a '/' or ends in .toml), else faults/NAME.toml in the ops repo.
    [[nodiscard]] Result<std::string> profile_path(const FaultRequest& request,
                                                   const std::string& name) const;
};

}  // namespace shipshape::app
