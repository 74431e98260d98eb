#include "faults/engine.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/assert.hpp"
#include "core/size.hpp"
#include "os/errno_error.hpp"
#include "os/process.hpp"

namespace shipshape::faults {

namespace {

// Finds `name` in PATH (the sandbox's commands use the same lookup).
std::optional<std::string> find_tool(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    dirs += ":/usr/sbin:/sbin";
    size_t i = 0;
    while (i <= dirs.size()) {
        size_t j = dirs.find(':', i);
        std::string dir = dirs.substr(i, j == std::string::npos ? std::string::npos : j - i);
        std::string candidate = dir + "/" + name;
        if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        if (j == std::string::npos) {
            break;
        }
        i = j + 1;
    }
    return std::nullopt;
}

std::string tool_package(const std::string& tool) {
    if (tool == "tc" || tool == "ip") {
        return "iproute2";
    }
    if (tool == "iptables" || tool == "ip6tables") {
        return "iptables";
    }
    return "coreutils";
}

}  // namespace

Result<std::string> run_tool(const std::vector<std::string>& argv) {
    auto path = find_tool(argv.at(0));
    if (!path) {
        return fail(Errc::unsupported, "'" + argv[0] + "' is not installed (Debian package " +
                                           tool_package(argv[0]) + ")");
    }
    os::ProcessSpec spec;
    spec.argv = argv;
    spec.argv.front() = *path;
    os::CollectSink sink;  // stdout and stderr merged, as the messages below quote them
    auto outcome = os::make_process_runner()->run(spec, sink, nullptr);
    if (!outcome) {
        return fail(outcome.error());
    }
    std::string& output = sink.out;
    if (!outcome->success()) {
        std::string cmd;
        for (const auto& a : argv) {
            cmd += (cmd.empty() ? "" : " ") + a;
        }
        while (!output.empty() && output.back() == '\n') {
            output.pop_back();
        }
        return fail(Errc::io, "'" + cmd + "' failed: " + output);
    }
    return output;
}

void Engine::begin_setup() {
    m_state.batching = true;
}

Status Engine::finish_setup() {
    m_state.batching = false;
    return m_state.nft ? m_state.nft->commit_batch() : Status{};
}

Engine::~Engine() {
    teardown(0);
}

Status Engine::add(int id, const Fault& f, int64_t now_ms) {
    auto name = mechanism_for(f.kind).setup(m_state, id, f);
    if (!name) {
        return fail(name.error());
    }
    Entry e;
    e.fault = f;
    e.mechanism = std::move(*name);
    auto [it, inserted] = m_entries.emplace(id, std::move(e));
    SHIPSHAPE_ASSERT(inserted);
    m_faults.emplace(id, f);
    if (!f.start) {
        return set_on(id, true, now_ms);
    }
    return {};
}

Status Engine::set_on(int id, bool on, int64_t now_ms) {
    auto it = m_entries.find(id);
    if (it == m_entries.end()) {
        return fail(Errc::not_found, "no fault " + std::to_string(id) + " in this sandbox");
    }
    Entry& e = it->second;
    if (e.on == on) {
        return {};
    }
    if (auto st = mechanism_for(e.fault.kind).set(m_state, id, e.fault, on); !st) {
        return st;
    }
    e.on = on;
    if (on) {
        e.windows.emplace_back(now_ms, -1);
    } else if (!e.windows.empty()) {
        e.windows.back().second = now_ms;
    }
    return {};
}

ChildSetup Engine::child_setup() const {
    ChildSetup c;
    if (m_state.cgroup) {
        c.cgroup_procs = m_state.cgroup->procs_file();
    }
    c.address_space_limit = m_state.alloc_limit;
    c.extra_env = m_state.child_env;
    return c;
}

void Engine::sample() {
    for (auto& [path, t] : m_state.tmpfs) {
        struct statvfs vfs {};
        if (::fstatvfs(t.fd, &vfs) != 0) {
            continue;
        }
        uint64_t used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
        t.peak_used = std::max(t.peak_used, used);
        if (t.limited && vfs.f_bavail * vfs.f_frsize < uint64_t{2} * 4096) {
            ++t.full_samples;
        }
    }
}

MemoryStats Engine::memory_stats() const {
    return m_state.memory_stats();
}

std::vector<FaultOutcome> Engine::outcomes() {
    std::vector<FaultOutcome> out;
    if (m_state.nft) {
        m_state.nft_counts = m_state.nft->counters().value_or(std::map<int, NftCounter>{});
    }
    for (const auto& [id, e] : m_entries) {
        FaultOutcome o;
        o.id = id;
        o.fault = e.fault;
        o.mechanism = e.mechanism;
        o.active_ms = e.windows;
        mechanism_for(e.fault.kind).report(m_state, id, e.fault, o);
        out.push_back(std::move(o));
    }
    return out;
}

Status Engine::power_loss() {
    for (const auto& [id, e] : m_entries) {
        if (auto at_end = mechanism_for(e.fault.kind).at_end) {
            if (auto st = at_end(m_state, e.fault); !st) {
                return st;
            }
        }
    }
    return {};
}

void Engine::teardown(int64_t now_ms) {
    sample();
    for (auto& [id, e] : m_entries) {
        if (e.on && !e.windows.empty() && e.windows.back().second < 0 && now_ms > 0) {
            e.windows.back().second = now_ms;
        }
    }
    for (auto& [path, fs] : m_state.fs) {
        m_state.fs_final[path] = fs->counters();
        (void)fs->unmount();
    }
    m_state.fs.clear();
    if (m_state.cgroup) {
        m_state.memory_final = m_state.cgroup->stats();
        m_state.cgroup.reset();
    }
    if (m_state.delay) {
        m_state.delay_final = m_state.delay->counters();
        m_state.delay.reset();
    }
    for (auto& [path, t] : m_state.tmpfs) {
        if (t.fd >= 0) {
            ::close(t.fd);
            t.fd = -1;
        }
    }
}

FaultFsCounters MechanismState::fs_counters(const std::string& path) const {
    if (auto it = fs_final.find(path); it != fs_final.end()) {
        return it->second;
    }
    auto it = fs.find(path);
    return it == fs.end() ? FaultFsCounters{} : it->second->counters();
}

MemoryStats MechanismState::memory_stats() const {
    if (memory_final) {
        return *memory_final;
    }
    return cgroup ? cgroup->stats() : MemoryStats{};
}

// The registry of mechanisms: one line per fault kind.
const Mechanism* const k_mechanisms[] = {
    &k_loss_mechanism,          &k_block_port_mechanism,  &k_latency_mechanism,
    &k_bandwidth_mechanism,     &k_reset_after_mechanism, &k_dns_fail_mechanism,
    &k_disk_full_mechanism,     &k_io_error_mechanism,    &k_slow_io_mechanism,
    &k_lose_unsynced_mechanism, &k_memory_mechanism,      &k_alloc_limit_mechanism,
    &k_clock_skew_mechanism,
};

const Mechanism& mechanism_for(FaultKind kind) {
    for (const Mechanism* m : k_mechanisms) {
        if (m->kind == kind) {
            return *m;
        }
    }
    SHIPSHAPE_ASSERT(false && "a FaultKind without a row in k_mechanisms");
    return *k_mechanisms[0];
}

bool tool_installed(const std::string& name) {
    return find_tool(name).has_value();
}

}  // namespace shipshape::faults
