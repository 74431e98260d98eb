// The supervisor's entry point, called in the child that Sandbox::start forks. Internal to the
// faults module.
#pragma once

#include <sys/types.h>

#include <vector>

#include "faults/sandbox.hpp"

namespace shipshape::faults {

// Enters the namespaces, sets up `faults`, replies "ok ready" or "err CODE MESSAGE" on `fd`
// and serves requests until told to finish or until `parent` goes away. Never returns.
[[noreturn]] void run_supervisor(int fd, pid_t parent, const std::vector<Fault>& faults,
                                 const SandboxOptions& options);

}  // namespace shipshape::faults
