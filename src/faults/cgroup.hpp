// MemoryCgroup: a memory cgroup (v1 or v2, whichever this machine mounts) that the sandbox's
// commands join before they exec, so the kernel's OOM killer ends them past the limit. Named
// "shipshape-fault-<supervisor pid>-<its start time>"; which ones are a killed run's leftovers
// is told by the sandboxes' records (sandbox_record.hpp), never by the name.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
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
    // Creates the cgroup `name` with no limit yet, after `claim` accepted its path (the
    // sandbox's record; an error from it is returned and nothing is made). Errc::unsupported
    // (naming what is missing: root, the memory controller) when that is impossible here;
    // Errc::already_exists when a cgroup of that name exists (it is not ours).
    [[nodiscard]] static Result<std::unique_ptr<MemoryCgroup>> create(
        const std::string& name, const std::function<Status(const std::string&)>& claim);
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

// Where a sandbox's cgroup called `name` can be: under the v1 memory hierarchy or the unified
// one. A record naming any other path is not trusted.
std::vector<std::string> sandbox_cgroup_paths(const std::string& name);
// Every cgroup under those roots whose name starts like a sandbox's ("shipshape-fault-").
std::vector<std::string> sandbox_like_cgroups();
// Kills what is still in the cgroup at `path` and removes it; a path that does not exist is
// already removed. Errc::io (with the reason) when it stays.
[[nodiscard]] Status remove_cgroup(const std::string& path);

}  // namespace shipshape::faults
