// Comparing two hosts' facts (or two snapshots of one host): what differs, with both sides.
// Pure. Only facts that describe the machine are compared — not times, free space or pids,
// which change by the second.
#pragma once

#include <string>
#include <vector>

#include "facts/facts.hpp"

namespace shipshape::facts {

struct Difference {
    std::string section;  // os, cpu, memory, packages, limits, ports
    std::string subject;  // "kernel", "libssl3", "nofile", "8080/tcp"
    std::string left;     // "" when absent on that side
    std::string right;
};

// The operating system as one comparable value: PRETTY_NAME (or ID) and, when it says more than
// VERSION_ID, the point release: "Debian GNU/Linux 12 (bookworm), 12.11". Environment
// comparisons use it, so 12.4 against 12.11 is a difference.
std::string os_label(const OsFacts& os);

// In section order, then by subject.
std::vector<Difference> diff_facts(const HostFacts& left, const HostFacts& right);

}  // namespace shipshape::facts
