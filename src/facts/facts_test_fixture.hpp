// Test-only helpers shared by the facts parser tests (collect_test.cpp) and the gatherer tests
// (gather_test.cpp): sample lines of /proc files and compact rows of parsed values.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "facts/collect.hpp"

namespace shipshape::facts::fixture {

inline std::string cpuinfo_entry(int processor, const char* model, int physical, int core) {
    std::string text =
        "processor\t: " + std::to_string(processor) + "\nvendor_id\t: GenuineIntel\n";
    text += std::string("model name\t: ") + model + "\n";
    if (physical >= 0) {
        text += "physical id\t: " + std::to_string(physical) + "\n";
        text += "core id\t\t: " + std::to_string(core) + "\n";
    }
    return text + "flags\t\t: fpu vme sse\n\n";
}

inline std::vector<std::string> mount_rows(const std::vector<Mount>& mounts) {
    std::vector<std::string> out;
    out.reserve(mounts.size());
    for (const Mount& m : mounts) {
        out.push_back(m.device + "|" + m.path + "|" + m.fs_type);
    }
    return out;
}

constexpr const char* k_tcp_header =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n";

inline std::string proc_net_line(int sl, const char* local, const char* remote, const char* state,
                                 const char* inode) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%4d: %s %s %s 00000000:00000000 00:00000000 00000000     0        0 %s 1 "
                  "0000000000000000 100 0 0 10 0\n",
                  sl, local, remote, state, inode);
    return line;
}

}  // namespace shipshape::facts::fixture
