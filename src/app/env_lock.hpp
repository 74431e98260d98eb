// Environment locks for use cases that change hosts (apply, runs): the one lock mechanism,
// the store's LockStore, with the staleness rule in one place. A lock is held by an owner id
// (a run id, or "apply-..." for `shipshape apply`) and this process (host name, pid and the
// pid's start time, which tells a live holder from a reused pid).
//
// Threading: an EnvLocks is used by the thread that acquired it; the store it borrows must
// outlive it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

namespace shipshape::app {

// The start time of a process in clock ticks since boot, nullopt when there is none
// (os::process_start_ticks on the real machine).
using StartTicksFn = std::function<std::optional<unsigned long long>(pid_t)>;

// Who this process is, as a lock records it.
struct LockOwner {
    std::string host;  // this machine's host name
    int64_t pid = 0;
    uint64_t start_ticks = 0;
    std::string user{};  // who runs this process (current_user()), named to whoever is refused
};
LockOwner this_process();

// Whether a recorded holder is dead. A holder on another host is never stale: its processes are
// out of sight. On this host it is stale when its pid is gone, or the pid now belongs to a
// process started at other ticks (the pid was reused).
bool holder_is_stale(const store::LockHolder& holder, const std::string& this_host,
                     const StartTicksFn& start_ticks);

// "run R (pid 12 on web1, started 2026-01-02 10:00:00, by alice)" or "an apply (...)"; the
// user is left out when the holder has none recorded (a lock taken by an older shipshape).
std::string describe_lock_holder(const store::LockHolder& holder);

// Locks held for one use case; released by release() or the destructor.
class EnvLocks {
  public:
    EnvLocks() = default;
    EnvLocks(const EnvLocks&) = delete;
    EnvLocks& operator=(const EnvLocks&) = delete;
    EnvLocks(EnvLocks&& other) noexcept;
    EnvLocks& operator=(EnvLocks&& other) noexcept;
    ~EnvLocks();

    // Takes every lock in `keys` (environment names; sorted and deduplicated first, so two
    // callers never wait on each other in opposite orders) for `owner_id`, all or none.
    // Errc::conflict names the first key held by a live holder and that holder; a dead holder's
    // lock is taken over and said in `notes`. Errc::store when the store fails. `reason`, when
    // given, says why a key is needed ("step 'x' runs on host p1"); a conflict message quotes it.
    [[nodiscard]] static Result<EnvLocks> acquire(
        store::LockStore& store, std::vector<std::string> keys, const std::string& owner_id,
        const LockOwner& me, const Clock& clock, const StartTicksFn& start_ticks,
        std::vector<std::string>* notes,
        const std::function<std::string(const std::string& key)>& reason = {});

    const std::vector<std::string>& keys() const { return m_keys; }
    void release();

  private:
    store::LockStore* m_store = nullptr;
    std::string m_owner_id;
    std::vector<std::string> m_keys;
};

// "environment 'prod'" or "host 'h1'" (for "host:h1"): a lock key as messages name it.
std::string describe_lock_key(const std::string& key);

// The lock key of a host a use case changes: its environment, or "host:NAME" for a host in no
// environment.
std::string lock_key_of(const std::string& host, const std::string& env);

}  // namespace shipshape::app
