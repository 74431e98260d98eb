// Host facts: what a machine is — OS, CPU, memory, disks, network, installed packages,
// services, limits and the names of selected environment variables — as typed values.
// Collectors are pure `parse_*` functions (text in, values out) plus thin `gather_*` functions
// that read files under a root directory ("/" for this host, a fixture tree in tests, the same
// code in a remote agent). No subprocesses. A section that cannot be read on this machine is
// reported in `HostFacts::problems` with the reason, never silently empty.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape::facts {

struct OsFacts {
    std::string id;            // os-release ID, e.g. "debian"
    std::string name;          // PRETTY_NAME
    std::string version_id;    // e.g. "12"
    std::string release;       // the point release, e.g. "12.11" (/etc/debian_version), else
                               // version_id; "" when neither is known
    std::string codename;      // VERSION_CODENAME
    std::string kernel;        // release, e.g. "6.1.0-18-amd64"
    std::string architecture;  // uname machine, e.g. "x86_64"
    std::string hostname;
    int64_t boot_time = 0;       // seconds since the epoch
    std::string virtualization;  // "kvm", "docker", "none", ... ("" when unknown)
};

struct CpuFacts {
    std::string model;
    int cores = 0;    // physical cores
    int threads = 0;  // logical CPUs online
};

struct MemoryFacts {
    uint64_t total = 0;  // bytes
    uint64_t available = 0;
    uint64_t swap_total = 0;
    uint64_t swap_free = 0;
};

struct Mount {
    std::string device;
    std::string path;
    std::string fs_type;
    uint64_t size = 0;  // bytes; 0 when statvfs failed
    uint64_t free = 0;  // available to unprivileged users
    uint64_t inodes = 0;
    uint64_t inodes_free = 0;
};

struct Interface {
    std::string name;
    std::string state;  // operstate: "up", "down", "unknown"
    int mtu = 0;
    std::string mac;
    std::vector<std::string> addresses;  // "10.0.0.5/24", "fe80::1/64"
};

struct Socket {
    std::string protocol;  // "tcp", "tcp6", "udp", "udp6"
    std::string address;   // local address, e.g. "0.0.0.0", "::"
    int port = 0;
    int64_t pid = 0;      // owning process, 0 when unknown (not ours to see)
    std::string process;  // its comm
};

struct NetworkFacts {
    std::vector<Interface> interfaces;
    std::string default_gateway;  // "" when none
    std::string default_interface;
    std::vector<std::string> dns_servers;
    std::vector<Socket> listening;  // TCP in LISTEN, UDP bound
};

struct Package {
    std::string name;
    std::string version;
    std::string architecture;
    std::string status;  // dpkg's third status word: "installed", "half-installed", ...
};

struct Service {
    std::string name;   // "nginx.service"
    std::string state;  // "enabled", "disabled", "masked", "static"
};

struct ServiceFacts {
    bool systemd = false;  // systemd is the running init
    std::string note;      // why services could not be listed, when they could not
    std::vector<Service> units;
};

struct LimitFacts {
    std::map<std::string, uint64_t>
        rlimits;  // soft limits: "nofile", "nproc", ...; max = unlimited
    std::map<std::string, std::string> sysctl;    // "fs.file-max", "net.core.somaxconn", ...
    int cgroup_version = 0;                       // 1 or 2; 0 unknown
    std::optional<uint64_t> cgroup_memory_limit;  // bytes; nullopt = unlimited
    std::optional<double> cgroup_cpu_limit;       // CPUs; nullopt = unlimited
};

struct HostFacts {
    std::string host;          // inventory name
    int64_t collected_at = 0;  // ms since epoch
    OsFacts os;
    CpuFacts cpu;
    MemoryFacts memory;
    std::vector<Mount> mounts;
    NetworkFacts network;
    std::vector<Package> packages;  // sorted by name, then architecture
    ServiceFacts services;
    LimitFacts limits;
    std::vector<std::string> env_names;  // names only, never values
    std::vector<std::string> problems;   // "network.listening: /proc/net/tcp: permission denied"
};

// The sections, in output order; `--only` takes these names.
inline const std::vector<std::string> k_sections = {
    "os", "cpu", "memory", "mounts", "network", "packages", "services", "limits", "env"};

}  // namespace shipshape::facts
