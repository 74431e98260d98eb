// Collecting host facts. Every reader is a pure `parse_*` function over a file's text; the
// `gather_*` functions read those files below a root directory and call them. Everything is
// read from files under the root — /proc, /sys, /etc, /var/lib/dpkg, /run — so a fixture tree
// stands in for a host in tests. When the root is "/" a few readings come from system calls
// instead: statvfs() for mount sizes, getrlimit(), uname(), getifaddrs() for addresses, the
// environment's names, and a sock_diag netlink query for TCP listeners (four /proc/net reads
// cost ~8 ms on a busy host; /proc is the fallback). Thread-safe: no globals.
// parse_mounts also drops pseudo file systems and keeps only the last of stacked mounts.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "facts/facts.hpp"

namespace shipshape::facts {

// /etc/os-release (or /usr/lib/os-release): ID, PRETTY_NAME, VERSION_ID, VERSION_CODENAME;
// quoted and unquoted values, comments, blank lines.
void parse_os_release(std::string_view text, OsFacts& out);
// /etc/debian_version: the point release ("12.11") from its first line; "" when that is not a
// number (testing and unstable write "trixie/sid", derivatives such as Ubuntu "bookworm/sid").
std::string parse_debian_version(std::string_view text);
// /proc/cpuinfo: model name, logical CPUs ("processor" entries), physical cores (unique
// "physical id"/"core id" pairs; equals threads when those fields are absent).
CpuFacts parse_cpuinfo(std::string_view text);
// /proc/meminfo: MemTotal, MemAvailable, SwapTotal, SwapFree (kB → bytes).
MemoryFacts parse_meminfo(std::string_view text);
// /proc/self/mounts: device, path (octal escapes such as \040 decoded), fs type.
std::vector<Mount> parse_mounts(std::string_view text);
// /var/lib/dpkg/status: one Package per stanza whose Status is not "not-installed" (also
// half-installed, config-files, ...); multi-line fields and continuation lines skipped.
std::vector<Package> parse_dpkg_status(std::string_view text);
// /proc/net/tcp, tcp6, udp, udp6: sockets in LISTEN (tcp, state 0A) or bound unconnected
// (udp, state 07); the address in text form; `inode` of each is returned through `inodes`.
std::vector<Socket> parse_proc_net(std::string_view text, std::string_view protocol,
                                   std::vector<uint64_t>& inodes);
// /proc/net/route: the default route's gateway (dotted quad) and interface.
void parse_proc_route(std::string_view text, NetworkFacts& out);
// /etc/resolv.conf: nameserver lines.
std::vector<std::string> parse_resolv_conf(std::string_view text);
// /proc/self/cgroup + the cgroup files: version and limits. `read` reads a path below the root
// and returns "" when it does not exist.
void parse_cgroup(std::string_view self_cgroup,
                  const std::function<std::string(const std::string&)>& read, LimitFacts& out);

struct GatherOptions {
    std::string root = "/";
    std::vector<std::string> sections;   // empty: all of k_sections
    std::vector<std::string> env_names;  // environment variable names to report (names only)
};

// Gathers the requested sections. Never fails as a whole: unreadable parts go to `problems`.
HostFacts gather_facts(const GatherOptions& options);

}  // namespace shipshape::facts
