#include "app/env_lock.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <utility>

#include "app/runs.hpp"
#include "core/wall_ms.hpp"
#include "os/process.hpp"
#include "state/accounts.hpp"

namespace shipshape::app {

std::string current_user() {
    if (const char* u = std::getenv("USER"); u && *u) {
        return u;
    }
    // /etc/passwd, not getpwuid: the static agent links no NSS (docs/agent.md).
    return state::read_ids("/etc/passwd", "/etc/group", false).user_name(::getuid());
}

LockOwner this_process() {
    LockOwner me;
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0) {
        me.host = name;
    }
    me.pid = ::getpid();
    me.start_ticks = os::process_start_ticks(::getpid()).value_or(0);
    me.user = current_user();
    return me;
}

bool holder_is_stale(const store::LockHolder& holder, const std::string& this_host,
                     const StartTicksFn& start_ticks) {
    if (holder.host != this_host) {
        return false;
    }
    auto ticks = start_ticks(static_cast<pid_t>(holder.pid));
    return !ticks || *ticks != holder.pid_start_ticks;
}

std::string describe_lock_holder(const store::LockHolder& h) {
    std::time_t secs = h.started_at / 1000;
    std::tm tm{};
    localtime_r(&secs, &tm);
    char when[64];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    std::string who = h.run_id.rfind("apply-", 0) == 0 ? "an apply" : "run " + h.run_id;
    const std::string by = h.user.empty() ? "" : ", by " + h.user;
    return who + " (pid " + std::to_string(h.pid) + " on " + h.host + ", started " + when + by +
           ")";
}

std::string describe_lock_key(const std::string& key) {
    return key.rfind("host:", 0) == 0 ? "host '" + key.substr(5) + "'"
                                      : "environment '" + key + "'";
}

std::string lock_key_of(const std::string& host, const std::string& env) {
    return env.empty() ? "host:" + host : env;
}

EnvLocks::EnvLocks(EnvLocks&& other) noexcept
    : m_store(std::exchange(other.m_store, nullptr)),
      m_owner_id(std::move(other.m_owner_id)),
      m_keys(std::move(other.m_keys)) {}

EnvLocks& EnvLocks::operator=(EnvLocks&& other) noexcept {
    if (this != &other) {
        release();
        m_store = std::exchange(other.m_store, nullptr);
        m_owner_id = std::move(other.m_owner_id);
        m_keys = std::move(other.m_keys);
    }
    return *this;
}

EnvLocks::~EnvLocks() {
    release();
}

void EnvLocks::release() {
    if (m_store) {
        for (const auto& k : m_keys) {
            (void)m_store->release_env_lock(k, m_owner_id);  // a lock left behind goes stale
        }
    }
    m_store = nullptr;
    m_keys.clear();
}

Result<EnvLocks> EnvLocks::acquire(store::LockStore& store, std::vector<std::string> keys,
                                   const std::string& owner_id, const LockOwner& me,
                                   const Clock& clock, const StartTicksFn& start_ticks,
                                   std::vector<std::string>* notes,
                                   const std::function<std::string(const std::string&)>& reason) {
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    EnvLocks held;
    held.m_store = &store;
    held.m_owner_id = owner_id;
    const int64_t now = wall_ms(clock);
    auto is_stale = [&](const store::LockHolder& h) {
        return holder_is_stale(h, me.host, start_ticks);
    };
    for (const auto& key : keys) {
        store::LockHolder holder{key, owner_id, me.pid, me.start_ticks, me.host, now, me.user};
        auto r = store.acquire_env_lock(holder, is_stale);
        if (!r) {
            return fail(r.error());  // `held` releases what it took
        }
        if (!r->acquired) {
            std::string what = describe_lock_key(key);
            if (std::string why = reason ? reason(key) : std::string(); !why.empty()) {
                what += " (" + why + ")";
            }
            return fail(Errc::conflict, what + " is locked by " + describe_lock_holder(*r->holder) +
                                            "; wait for it to finish, or stop it first");
        }
        held.m_keys.push_back(key);
        if (r->holder && notes) {
            notes->push_back("took over the lock of " + describe_lock_key(key) + " from " +
                             describe_lock_holder(*r->holder) + ", which is no longer running");
        }
    }
    return held;
}

}  // namespace shipshape::app
