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

// A dpkg status file of a few stanzas, installed and not.
constexpr const char* k_dpkg_status = R"(Package: zlib1g
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.
 .
 Package: not-a-package
Homepage: http://zlib.net/

Package: base-files
Essential: yes
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
Conffiles:
 /etc/debian_version 6d3e5ef8fcd1e3e3a3a0f8b4b3a1c0de
 /etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6
Description: Debian base system miscellaneous files

Package: broken-upgrade
Status: install reinstreq half-installed
Architecture: all
Version: 2.0-1

Package: removed-tool
Status: deinstall ok config-files
Architecture: amd64
Version: 0.9-3
Conffiles:
 /etc/removed-tool.conf 0123456789abcdef0123456789abcdef

Package: purged-tool
Status: purge ok not-installed
Architecture: amd64

Package: zlib1g
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version: 1:1.2.13.dfsg-1
)";

}  // namespace shipshape::facts::fixture
