// The process side of the supervisor (internal to the faults module): namespaces, the pid
// namespace's init, commands forked into the sandbox, signals to everything in it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "faults/engine.hpp"
#include "faults/sandbox.hpp"

namespace shipshape::faults {

// Unshares user (without root), network and mount namespaces and brings up loopback.
// Errc::unsupported when the kernel refuses a namespace.
[[nodiscard]] Status enter_namespaces();

// The pid namespace's init: reaps orphans and keeps the namespace alive until the supervisor
// dies, which kills it, which makes the kernel kill everything else inside.
[[noreturn]] void run_init();

// Forks a child into the sandbox (into `child_pidns` by setns around the fork; -1: the
// caller's children land there already). The child joins the cgroup, takes the rlimit and the
// cwd of `setup`, then execs `argv` (PATH searched) or, with body_fd >= 0, runs `body` with a
// Control on body_fd. Stop signals are blocked across the fork so none is lost before the
// child restores their default dispositions. Returns the pid; Errc::not_found when argv cannot
// be executed, other errors when a set-up step fails (the child is reaped then).
[[nodiscard]] Result<pid_t> fork_command(const std::vector<std::string>& argv,
                                         const std::string& cwd, int body_fd,
                                         const ChildSetup& setup, int child_pidns,
                                         const std::function<int(Control&)>& body);

// fork() with SIGINT, SIGTERM and SIGHUP blocked across it: the parent gets its mask back at
// once; the child starts with them blocked and pending, and must unblock them itself once its
// dispositions are what it wants, so a Ctrl-C between fork and that point is never lost.
pid_t fork_with_stop_signals_blocked();

// Sends `sig` to every process in the sandbox's pid namespace but its init (see the .cpp).
void signal_sandbox(int child_pidns, int sig);

}  // namespace shipshape::faults
