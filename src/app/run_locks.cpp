#include "app/run_locks.hpp"

#include <unistd.h>

#include <ctime>
#include <map>

#include "os/process.hpp"

namespace shipshape::app {

std::string local_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) {
        return "localhost";
    }
    return buf;
}

std::vector<LockKey> run_lock_keys(const Inventory& inventory, const std::string& env,
                                   const checklist::Checklist& rendered) {
    std::map<std::string, std::string> keys;  // key -> why (the first reason found)
    keys.emplace(env, "");
    for (const auto& step : rendered.steps) {
        for (const auto& copy : step.per_host) {
            const std::string why = "step '" + step.id + "' runs on host " + copy.host;
            bool listed = false;
            for (const auto& e : inventory.environments) {
                for (const auto& h : e.hosts) {
                    if (h == copy.host) {
                        keys.emplace(e.name, why);
                        listed = true;
                    }
                }
            }
            if (!listed) {
                keys.emplace("host:" + copy.host, why);
            }
        }
    }
    std::vector<LockKey> out;
    out.reserve(keys.size());
    for (auto& [key, why] : keys) {
        out.push_back(LockKey{key, why});
    }
    return out;
}

namespace {

std::string describe_key(const std::string& key) {
    if (key.rfind("host:", 0) == 0) {
        return "host '" + key.substr(5) + "'";
    }
    return "environment '" + key + "'";
}

std::string local_time(int64_t ms) {
    std::time_t secs = ms / 1000;
    std::tm tm{};
    localtime_r(&secs, &tm);
    char when[64];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    return when;
}

}  // namespace

Result<HeldLocks> acquire_run_locks(store::Store& store, const std::vector<LockKey>& keys,
                                    const std::string& run_id, int64_t now_ms) {
    const std::string me_host = local_hostname();
    store::LockHolder me;
    me.run_id = run_id;
    me.pid = ::getpid();
    me.pid_start_ticks = os::process_start_ticks(::getpid()).value_or(0);
    me.host = me_host;
    me.started_at = now_ms;
    auto is_stale = [&](const store::LockHolder& h) {
        if (h.host != me_host) {
            return false;  // cannot see processes on other machines
        }
        auto ticks = os::process_start_ticks(static_cast<pid_t>(h.pid));
        return !ticks || *ticks != h.pid_start_ticks;
    };
    HeldLocks held;
    for (const auto& k : keys) {
        me.env = k.key;
        auto r = store.acquire_env_lock(me, is_stale);
        if (!r) {
            release_run_locks(store, held, run_id);
            return fail(r.error());
        }
        if (!r->acquired) {
            release_run_locks(store, held, run_id);
            const auto& h = *r->holder;
            return fail(Errc::conflict,
                        describe_key(k.key) + (k.why.empty() ? "" : " (" + k.why + ")") +
                            " is locked by run " + h.run_id + " (pid " + std::to_string(h.pid) +
                            " on " + h.host + ", started " + local_time(h.started_at) +
                            "); wait for it to finish, or stop it first");
        }
        held.keys.push_back(k.key);
        if (r->holder) {
            held.notes.push_back("took over the lock of " + describe_key(k.key) + " from run " +
                                 r->holder->run_id + " (pid " + std::to_string(r->holder->pid) +
                                 " is no longer running)");
        }
    }
    return held;
}

void release_run_locks(store::Store& store, const HeldLocks& held, const std::string& run_id) {
    for (auto it = held.keys.rbegin(); it != held.keys.rend(); ++it) {
        (void)store.release_env_lock(*it, run_id);
    }
}

}  // namespace shipshape::app
