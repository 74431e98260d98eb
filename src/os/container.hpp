// Containers: a command run in its own mount, pid, uts and (optionally) network namespace, on
// an overlay root filesystem whose lower directories are never written. Used by `image run`
// (a throwaway upper), the image build (`mount_at`: the overlay mounted at a directory of the
// host root, the layer as a persistent upper) and the lab (detached sshds, persistent uppers,
// named network namespaces).
//
// Processes: the launcher clones one child into the new namespaces. That child is pid 1 of
// the new pid namespace: it sets up the mounts, starts the command as its own child, forwards
// SIGINT, SIGTERM, SIGHUP and SIGQUIT to it, reaps every orphan, and exits with the command's
// shell status when it ends (the kernel then kills whatever else is left in the namespace).
// This is the one other place besides ProcessRunner that forks, because the child runs our
// code between clone() and exec() (mounts, pivot_root), which no spawn API offers.
//
// Privileges: as root, no user namespace is made. Otherwise the caller's uid and gid are
// mapped to 0 in a new user namespace; where that (or overlayfs in a user namespace, Linux
// 5.11+) is unavailable, the calls return Errc::unsupported saying so. Named network
// namespaces, cgroup limits and a host-root `mount_at` need root.
//
// Threading: the calls may be made from any thread; nothing here keeps state between calls.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace shipshape::os {

enum class ContainerNetwork {
    none,   // a new network namespace with only lo, up
    host,   // the caller's
    named,  // the named namespace /run/netns/<ContainerSpec::netns> (root only)
};

// What root inside the container may do. `full`: every capability (the image build and the lab
// need them). `restricted` (CI jobs): the capabilities of an ordinary root program only (see
// container_caps.hpp: no mounting, device nodes, modules, raw I/O or clock), and /proc/sys and
// /proc/sysrq-trigger read-only, so that root in the container cannot reach past its mounts.
enum class ContainerPrivileges { full, restricted };

struct BindMount {
    std::string source;       // a path of the caller's filesystem
    std::string destination;  // an absolute path inside the container (created when missing)
    bool read_only = true;
};

struct ContainerLimits {
    std::optional<uint64_t> memory_bytes;  // a memory cgroup limit (swap included)
    std::optional<double> cpus;            // a CFS quota of this many CPUs
    std::optional<uint64_t> open_files;    // RLIMIT_NOFILE
};

struct ContainerSpec {
    // The overlay: lower directories top first (at least one), and where writes go. An empty
    // upper_dir means a tmpfs that disappears with the container; otherwise upper_dir and
    // work_dir (empty, on the same filesystem) must exist.
    std::vector<std::string> lower_dirs;
    std::string upper_dir;
    std::string work_dir;
    // Non-empty: mount the overlay at this existing directory, visible to the command only,
    // and keep the caller's root (no /proc, /dev or /tmp of its own, no pivot). Root only.
    std::string mount_at;
    std::string hostname;  // empty: the caller's
    ContainerNetwork network = ContainerNetwork::none;
    std::string netns;  // for ContainerNetwork::named
    std::vector<BindMount> binds;
    std::vector<std::string>
        argv;                      // argv[0] is looked up in the container's PATH unless it has '/'
    std::vector<std::string> env;  // "K=V"; the command sees exactly these
    std::string cwd = "/";
    ContainerLimits limits;
    ContainerPrivileges privileges = ContainerPrivileges::full;
    // For start_container: where the command's stdout and stderr go (appended); empty:
    // /dev/null. run_container inherits the caller's standard streams.
    std::string log_file;
};

// Runs the command to its end and returns its shell status: its exit code, or 128 + the
// signal that ended it. Errc::unsupported (with the reason) when this machine cannot make the
// container, Errc::not_found when the command is not in the container, Errc::invalid_argument
// for a malformed spec, Errc::io for other setup failures (the step and errno named).
[[nodiscard]] Result<int> run_container(const ContainerSpec& spec);

// Starts the command as a daemon that outlives the caller (its own session, no parent-death
// signal, stdin /dev/null, output to spec.log_file) and returns the pid, in the caller's pid
// namespace, of the container's init: killing it ends everything inside. Returns once the
// command has been exec'd. Errors as run_container. The caller should reap the pid (waitpid)
// if it lives on after the container ends; otherwise init does after the caller exits.
[[nodiscard]] Result<pid_t> start_container(const ContainerSpec& spec);

// Whether containers can be made here: "" when they can, else the reason (no user
// namespaces, overlayfs refused in a user namespace…). Makes and ends one tiny container.
std::string container_unsupported_reason();

// Limits through cgroups: makes a cgroup named `name` under the memory and cpu hierarchies
// (v1 or v2, whichever this machine mounts), sets the limits, and returns the cgroup.procs
// files a process writes its pid to. remove_limit_cgroups kills what is left and removes them.
// Errc::unsupported when not root or the controllers are missing.
[[nodiscard]] Result<std::vector<std::string>> make_limit_cgroups(const std::string& name,
                                                                  const ContainerLimits& limits);
void remove_limit_cgroups(const std::string& name);

// The processes whose network namespace is the one bound at `netns_path` (/run/netns/NAME),
// from one scan of /proc; empty when the path does not exist.
std::vector<pid_t> pids_in_network_namespace(const std::string& netns_path);

// Waits until a TCP connection to ipv4:port (from the caller's network namespace) succeeds.
// Errc::timeout after `timeout_ms`, naming the address and the last error.
[[nodiscard]] Status wait_for_tcp(const std::string& ipv4, int port, int timeout_ms);

}  // namespace shipshape::os
