// The local lab (`shipshape lab up|down|status`): N hosts on this machine, each a container
// (os::start_container) running the image's sshd in its own named network namespace, with a
// veth into a private bridge in the root namespace (which holds the subnet's first address, so
// the controller reaches the hosts directly) and its own persistent overlay upper, so hosts
// really differ until `lab down`.
//
// Files, all under the ops repo: .shipshape/lab/lab.json (the state: every name, address and
// pid, written before each thing it names is made, so a killed `lab up` is repaired or
// cleaned up by the next up or down), .shipshape/lab/ssh/ (host and client keys, sshd_config,
// known_hosts, ssh_config), .shipshape/lab/<host>/{upper,work,sshd.log}, and inventory.lab.toml
// (environment `lab`, hosts lab1…labN; project.hpp merges it into the inventory).
//
// Names: every namespace, bridge and veth carries the lab id (6 hex digits of the sha256 of
// the repo's path), so two repos' labs and parallel tests do not collide; the subnet is
// [lab] subnet of shipshape.toml, else a /24 in 10.200.0.0-10.249.255.0 derived from the id.
//
// Needs root (namespaces, a bridge, cgroups of nothing); Errc::unsupported "lab needs root: …"
// otherwise. Not thread-safe; two `lab` commands on one repo at once are not supported.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "app/project.hpp"
#include "core/error.hpp"
#include "os/process.hpp"

namespace shipshape::app {

struct LabHost {
    std::string name;  // lab1…
    int index = 0;
    std::string address;
    std::string netns;  // /run/netns/<netns>
    std::string veth;   // the root namespace's end (the host's end is its eth0)
    pid_t pid = 0;      // the container's init (0: not started)
    unsigned long long start_ticks = 0;
    bool running = false;  // not stored: filled by status() and up()
};

struct LabState {
    std::string id;
    std::string env = "lab";
    std::string image;  // image id
    std::string image_name;
    std::string subnet;  // "A.B.C.0/24"
    std::string bridge;
    std::string gateway;  // the bridge's address
    std::vector<LabHost> hosts;
};

std::string lab_state_json(const LabState& s);
[[nodiscard]] Result<LabState> parse_lab_state(const std::string& text);
// `lab status --json`: {"env", "image", "subnet", "bridge", "hosts": [{"name", "address",
// "netns", "pid", "running"}]}.
std::string lab_status_json(const LabState& s);

struct LabUpOptions {
    int count = 0;
    std::string image;  // name, id or prefix; empty: the lab's image, else the newest image
    std::string env = "lab";
};

struct LabUpReport {
    LabState state;
    std::vector<std::string> started;  // hosts (re)started
    std::vector<std::string> kept;     // hosts already running
    std::vector<std::string> removed;  // hosts beyond N, removed
};

class LabService {
  public:
    LabService(const Project& project, os::ProcessRunner& runner)
        : m_project(project), m_runner(runner) {}

    // Makes hosts lab1…labN running (repairing any that is not) and removes hosts beyond N.
    // Errc::unsupported (not root), Errc::not_found (no such image, no image at all),
    // Errc::invalid_argument (N out of 1..250; an image without /usr/sbin/sshd),
    // Errc::conflict (the lab runs another image or environment: lab down first), Errc::io.
    [[nodiscard]] Result<LabUpReport> up(const LabUpOptions& o);
    // Removes every process, namespace, veth, the bridge, .shipshape/lab and the lab's
    // inventory file. Returns what it removed (empty when no lab was up).
    [[nodiscard]] Result<std::vector<std::string>> down();
    // The lab as recorded, with `running` filled; Errc::not_found when no lab is up.
    [[nodiscard]] Result<LabState> status() const;

  private:
    std::string lab_dir() const { return m_project.state_dir() + "/lab"; }
    [[nodiscard]] Status ip(const std::vector<std::string>& args, const std::string& batch = {});
    [[nodiscard]] Status save(const LabState& s) const;
    [[nodiscard]] Status ensure_keys();
    [[nodiscard]] Status write_files(const LabState& s) const;
    [[nodiscard]] Status create_host(const LabState& s, LabHost& h,
                                     const std::vector<std::string>& lower_dirs);
    void remove_host(const LabHost& h);
    LabState fresh_state(const std::string& env) const;

    const Project& m_project;
    os::ProcessRunner& m_runner;
};

// The lab id of the repo at `root` (6 hex digits) and the default subnet for it.
std::string lab_id(const std::string& root);
std::string default_lab_subnet(const std::string& id);
// "A.B.C.0/24" -> "A.B.C." ; Errc::invalid_definition for anything but an IPv4 /24.
[[nodiscard]] Result<std::string> lab_subnet_prefix(const std::string& subnet);

}  // namespace shipshape::app
