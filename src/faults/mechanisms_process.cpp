// The process kinds' mechanisms: a memory cgroup every command joins (memory), RLIMIT_AS set
// in each command (alloc-limit) and the clock-skew preload library (clock-skew).
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "faults/mechanisms.hpp"
#include "os/errno_error.hpp"

namespace shipshape::faults {

namespace {

// --- memory: cgroup -----------------------------------------------------------------------

Result<std::string> setup_memory(MechanismState& s, int, const Fault&) {
    if (!s.cgroup) {
        // A cgroup outlives a killed sandbox: only one its record names can be cleaned up.
        if (!s.record) {
            return fail(Errc::unsupported,
                        "--memory needs the sandbox's record, which names its cgroup so that "
                        "'shipshape fault --cleanup' can remove it after a kill -9, and it "
                        "could not be made: " +
                            s.record_error);
        }
        auto cg = MemoryCgroup::create(
            sandbox_cgroup_name(s.record->pid(), s.record->start_time()),
            [&s](const std::string& path) { return s.record->claim_cgroup(path); });
        if (!cg) {
            return fail(cg.error());
        }
        s.cgroup = std::move(*cg);
    }
    return "memory cgroup v" + std::to_string(s.cgroup->version());
}

Status set_memory(MechanismState& s, int, const Fault& f, bool on) {
    return s.cgroup->set_limit(on ? f.bytes : 0);
}

void report_memory(MechanismState& s, int, const Fault&, FaultOutcome& out) {
    MemoryStats stats = s.memory_stats();
    out.counts.emplace_back("peak_bytes", stats.peak);
    out.counts.emplace_back("oom_kills", stats.oom_kills);
    out.fired = stats.oom_kills > 0;
}

// --- alloc-limit: RLIMIT_AS, set by each command's child before exec ----------------------

Result<std::string> setup_alloc_limit(MechanismState& s, int, const Fault& f) {
    s.alloc_limit = f.bytes;
    return std::string("RLIMIT_AS");
}

// Whole-run kinds: in effect from the start.
Status set_nothing(MechanismState&, int, const Fault&, bool) {
    return {};
}

void report_alloc_limit(MechanismState&, int, const Fault&, FaultOutcome& out) {
    out.observable = false;
    out.note =
        "the kernel does not count refused allocations; check the program's own handling (exit "
        "status, output)";
}

// --- clock-skew: LD_PRELOAD ---------------------------------------------------------------

Result<std::string> setup_clock_skew(MechanismState& s, int, const Fault& f) {
    if (s.preload.empty() || ::access(s.preload.c_str(), R_OK) != 0) {
        return fail(Errc::unsupported,
                    "--clock-skew needs its preload library, not found at '" + s.preload +
                        "' (it is built and installed next to the shipshape binary)");
    }
    // A shared counter the preloaded library increments on every skewed clock read, so the
    // report can say whether the program ever looked at the clock.
    s.skew_fd = ::memfd_create("shipshape-clock-skew", 0);
    if (s.skew_fd < 0 || ::ftruncate(s.skew_fd, 4096) != 0) {
        return fail(os::errno_error("--clock-skew: memfd", errno));
    }
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, s.skew_fd, 0);
    if (p == MAP_FAILED) {
        return fail(os::errno_error("--clock-skew: mmap", errno));
    }
    s.skew_count = static_cast<const volatile uint64_t*>(p);
    s.child_env.push_back("LD_PRELOAD=" + s.preload);
    s.child_env.push_back("SHIPSHAPE_CLOCK_SKEW=" + std::to_string(f.skew_seconds));
    s.child_env.push_back("SHIPSHAPE_CLOCK_SKEW_FD=" + std::to_string(s.skew_fd));
    return std::string("LD_PRELOAD clock library");
}

void report_clock_skew(MechanismState& s, int, const Fault&, FaultOutcome& out) {
    uint64_t reads = s.skew_count ? *s.skew_count : 0;
    out.counts.emplace_back("clock_reads_skewed", reads);
    out.fired = reads > 0;
    out.note =
        "dynamically linked programs only (LD_PRELOAD); static binaries and raw syscalls see "
        "the real clock";
}

}  // namespace

const Mechanism k_memory_mechanism{FaultKind::memory, setup_memory, set_memory, report_memory,
                                   nullptr};
const Mechanism k_alloc_limit_mechanism{FaultKind::alloc_limit, setup_alloc_limit, set_nothing,
                                        report_alloc_limit, nullptr};
const Mechanism k_clock_skew_mechanism{FaultKind::clock_skew, setup_clock_skew, set_nothing,
                                       report_clock_skew, nullptr};

}  // namespace shipshape::faults
