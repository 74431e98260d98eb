#include "app/run_locks.hpp"

#include <map>

#include "os/process.hpp"

namespace shipshape::app {

std::string local_hostname() {
    std::string name = this_process().host;
    return name.empty() ? "localhost" : name;
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

Result<HeldLocks> acquire_run_locks(store::Store& store, const std::vector<LockKey>& keys,
                                    const std::string& run_id, const Clock& clock) {
    std::vector<std::string> names;
    std::map<std::string, std::string> why;
    for (const auto& k : keys) {
        names.push_back(k.key);
        why.emplace(k.key, k.why);
    }
    HeldLocks held;
    auto locks = EnvLocks::acquire(
        store, names, run_id, this_process(), clock,
        [](pid_t pid) { return os::process_start_ticks(pid); }, &held.notes,
        [&why](const std::string& key) {
            auto it = why.find(key);
            return it == why.end() ? std::string() : it->second;
        });
    if (!locks) {
        return fail(locks.error());
    }
    held.locks = std::move(*locks);
    return held;
}

void release_run_locks(HeldLocks& held) {
    held.locks.release();
}

}  // namespace shipshape::app
