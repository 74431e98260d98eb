// The second table of fault kinds (the first, pure one is fault_kinds.hpp): per kind, the
// kernel mechanism behind it — set-up, switching on and off, the counters of its report entry,
// and what happens at the end of the run. Internal to the supervisor; the Engine is the only
// caller and holds the one MechanismState a sandbox has.
//
// The rows live with their code: network kinds in mechanisms_network.cpp (nftables, NFQUEUE,
// tbf, resolv.conf), storage kinds in mechanisms_storage.cpp (tmpfs, FUSE), process kinds in
// mechanisms_process.cpp (memory cgroup, rlimit, clock preload). A new kind adds a row there
// and a line in k_mechanisms (engine.cpp).
//
// Threading: the supervisor's event loop only, like the Engine.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "faults/cgroup.hpp"
#include "faults/delay_queue.hpp"
#include "faults/fuse_fs.hpp"
#include "faults/nft.hpp"
#include "faults/sandbox.hpp"
#include "faults/sandbox_record.hpp"

namespace shipshape::faults {

// What the mechanisms of one sandbox share: one nftables table, one delay queue, one FUSE file
// system and one tmpfs per path, one memory cgroup. Teardown snapshots the counters into the
// *_final members so the report stays readable afterwards.
struct MechanismState {
    struct Tmpfs {
        std::string path;
        uint64_t size = 0;
        uint64_t peak_used = 0;
        uint64_t full_samples = 0;
        bool limited = false;
        int fd = -1;
    };

    std::string preload;  // the clock-skew library
    std::unique_ptr<Nft> nft;
    bool batching = false;
    std::map<int, NftCounter> nft_counts;  // read once per report
    std::unique_ptr<DelayQueue> delay;
    DelayCounters delay_final;
    std::map<std::string, std::unique_ptr<FaultFs>> fs;
    std::map<std::string, FaultFsCounters> fs_final;
    std::map<std::string, Tmpfs> tmpfs;
    std::unique_ptr<MemoryCgroup> cgroup;
    std::optional<MemoryStats> memory_final;
    std::optional<std::string> bandwidth_final;
    bool dns_mounted = false;
    int skew_fd = -1;
    const volatile uint64_t* skew_count = nullptr;
    uint64_t alloc_limit = 0;
    std::vector<std::string> child_env;  // "K=V" for every command
    SandboxRecord* record = nullptr;     // claims what outlives the namespaces (the cgroup)
    std::string record_error;            // why there is no record

    FaultFsCounters fs_counters(const std::string& path) const;
    MemoryStats memory_stats() const;
};

struct Mechanism {
    FaultKind kind;
    // Sets the mechanism up for fault `id`, off; returns its name for the report ("nftables").
    // Errc::unsupported when this machine lacks what it needs, Errc::invalid_argument for a bad
    // path.
    Result<std::string> (*setup)(MechanismState& state, int id, const Fault& fault);
    Status (*set)(MechanismState& state, int id, const Fault& fault, bool on);
    // Fills the counters, `fired`, `observable` and `note` of the report entry.
    void (*report)(MechanismState& state, int id, const Fault& fault, FaultOutcome& out);
    // At the end of the run, before teardown (power loss); nullptr: nothing to do.
    Status (*at_end)(MechanismState& state, const Fault& fault);
};

const Mechanism& mechanism_for(FaultKind kind);

// The rows, one per kind (defined in the mechanisms_*.cpp files).
extern const Mechanism k_loss_mechanism;
extern const Mechanism k_block_port_mechanism;
extern const Mechanism k_latency_mechanism;
extern const Mechanism k_bandwidth_mechanism;
extern const Mechanism k_reset_after_mechanism;
extern const Mechanism k_dns_fail_mechanism;
extern const Mechanism k_disk_full_mechanism;
extern const Mechanism k_io_error_mechanism;
extern const Mechanism k_slow_io_mechanism;
extern const Mechanism k_lose_unsynced_mechanism;
extern const Mechanism k_memory_mechanism;
extern const Mechanism k_alloc_limit_mechanism;
extern const Mechanism k_clock_skew_mechanism;

// Whether `name` is found in PATH the way run_tool (engine.hpp) looks it up.
bool tool_installed(const std::string& name);

}  // namespace shipshape::faults
