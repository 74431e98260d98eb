// The exit codes of every shipshape command, in one place. Documented in --help and README.
#pragma once

#include "core/error.hpp"

namespace shipshape::cli {

enum class ExitCode : int {
    done = 0,
    failed = 1,       // a step, check, drift or requirement failed (or the store/lock refused)
    usage = 2,        // invalid usage or invalid definition
    unsupported = 3,  // this machine cannot do it: missing privilege, tool or kernel feature
    waiting = 4,      // waiting for a manual check-off
    gated = 5,        // run --release: a gate of the release's stage does not hold
    internal = 70,
    interrupted = 130,
};

constexpr int to_int(ExitCode c) {
    return static_cast<int>(c);
}

inline ExitCode exit_code_for(Errc code) {
    switch (code) {
        case Errc::invalid_argument:
        case Errc::invalid_definition:
        case Errc::not_found:
        case Errc::already_exists:
            return ExitCode::usage;
        case Errc::permission_denied:
        case Errc::unsupported:
            return ExitCode::unsupported;
        case Errc::interrupted:
            return ExitCode::interrupted;
        case Errc::internal:
            return ExitCode::internal;
        case Errc::conflict:
        case Errc::io:
        case Errc::store:
        case Errc::timeout:
        case Errc::unreachable:
            return ExitCode::failed;
    }
    return ExitCode::internal;
}

inline constexpr const char* k_exit_code_help =
    "Exit codes:\n"
    "  0    done\n"
    "  1    a step or check failed (or the environment is locked by another run)\n"
    "  2    invalid usage or invalid definition\n"
    "  3    this machine cannot do it (missing privilege, tool or kernel feature)\n"
    "  4    waiting for a manual check-off\n"
    "  5    run --release refused: the stage's gates do not hold (sign-offs, earlier stage)\n"
    "  70   internal error\n"
    "  130  interrupted (resumable with 'shipshape resume RUN')\n";

}  // namespace shipshape::cli
