// What a run locks, and taking those locks all at once. A run holds the lock of its own
// environment and of every environment that lists a host its rendered steps run on (`on`), so
// that a run against qa whose step names env:prod is refused while a run against prod rolls,
// and a prod deploy that touches qa hosts keeps qa runs out. A host that no environment lists
// is locked by itself ("host:NAME"). The store's environment lock is the one mechanism.
#pragma once

#include <string>
#include <vector>

#include "app/env_lock.hpp"
#include "app/project.hpp"
#include "checklist/model.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

namespace shipshape::app {

struct LockKey {
    std::string key;  // the store's lock name: an environment, or "host:NAME"
    std::string why;  // for messages: "" for the run's own environment, else which step
};

// The locks a run of `rendered` against `env` needs, sorted by key (one order for every run).
std::vector<LockKey> run_lock_keys(const Inventory& inventory, const std::string& env,
                                   const checklist::Checklist& rendered);

struct HeldLocks {
    EnvLocks locks;                  // released by release_run_locks or the destructor
    std::vector<std::string> notes;  // stale locks taken over
};

// Takes every lock of `keys` for `run_id` through EnvLocks (the one lock mechanism), or none:
// Errc::conflict names the first one held by a live run (its run id, pid, host and start) and
// why this run needs it. A lock whose holder is dead (on this machine) is taken over and
// reported in the notes.
[[nodiscard]] Result<HeldLocks> acquire_run_locks(store::Store& store,
                                                  const std::vector<LockKey>& keys,
                                                  const std::string& run_id, const Clock& clock);

// Best effort: releases what acquire_run_locks took.
void release_run_locks(HeldLocks& held);

// This machine's name, as lock holders and runs record it.
std::string local_hostname();

}  // namespace shipshape::app
