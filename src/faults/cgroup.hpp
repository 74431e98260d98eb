// MemoryCgroup: a memory cgroup (v1 or v2, whichever this machine mounts) that the sandbox's
// commands join before they exec, so the kernel's OOM killer ends them past the limit. Named
// "shipshape-fault-<supervisor pid>" so that `shipshape fault --cleanup` can tell a killed
// run's leftovers (owner gone) from a live run's.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace shipshape::faults {

struct MemoryStats {
    uint64_t peak = 0;       // bytes; 0 when the kernel does not keep a peak
    uint64_t oom_kills = 0;  // processes the OOM killer ended in this cgroup
};

class MemoryCgroup {
  public:
    // Creates the cgroup with no limit yet. Errc::unsupported (naming what is missing: root,
    // the memory controller) when that is impossible here.
    [[nodiscard]] static Result<std::unique_ptr<MemoryCgroup>> create(pid_t owner);
    ~MemoryCgroup();  // kills what is left in it and removes it
    MemoryCgroup(const MemoryCgroup&) = delete;
    MemoryCgroup& operator=(const MemoryCgroup&) = delete;

    // 0 removes the limit. Swap is limited too, so the limit is not dodged by swapping.
    [[nodiscard]] Status set_limit(uint64_t bytes);
    // The file a process writes its pid to, to join (async-signal-safe to open after fork).
    const std::string& procs_file() const { return m_procs; }
    MemoryStats stats() const;
    const std::string& path() const { return m_path; }
    int version() const { return m_version; }

  private:
    MemoryCgroup(std::string path, int version);
    std::string m_path;
    std::string m_procs;
    int m_version;
};

// Removes "shipshape-fault-<pid>" cgroups whose owner is gone (after killing what is still in
// them). Returns the paths removed.
std::vector<std::string> cleanup_stale_cgroups();

}  // namespace shipshape::faults
