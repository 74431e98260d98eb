// What a host has of its declared state, as data that can be stored and compared: the states
// and roles assigned, each managed path's content hash (SHA-256), mode and owner, and from its
// facts the kernel and package versions. `drift --env A --against B` compares these between
// environments; it never cares whether a report was made live or read from the store.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "facts/facts.hpp"
#include "state/model.hpp"

namespace shipshape::state {

struct ManagedPath {
    std::string kind;    // file, directory, symlink, tree, absent, line; "missing" when not there
    std::string sha256;  // file: content; tree: a digest of every entry; symlink: of the target
    std::string mode;    // "0640", "" for symlinks and missing paths
    std::string owner;   // "user:group"
    bool operator==(const ManagedPath&) const = default;
};

struct HostState {
    std::string host;
    std::string env;
    std::string source;  // "live" or "stored <time>"
    std::vector<std::string> roles;
    std::vector<std::string> state_files;
    std::map<std::string, ManagedPath> paths;
    std::string kernel;
    std::string os;
    std::map<std::string, std::string> packages;  // name -> version
    bool has_facts = false;
    bool has_paths = true;  // false: no state report for the host (paths and states unknown)
    // How many differences the drift check that made this report found (changes to apply plus
    // unmanaged paths); none when not known (reports saved before shipshape recorded it).
    std::optional<size_t> drift;
};

// Describes the managed paths of `resources` as they are now under `root`, and copies kernel,
// OS and packages from `facts` when given.
HostState describe_host(const std::string& host, const std::string& env,
                        const std::vector<std::string>& roles,
                        const std::vector<std::string>& state_files,
                        const std::vector<Resource>& resources, const std::string& root,
                        const facts::HostFacts* facts);

// JSON document "shipshape.host-state/1" and back.
std::string host_state_to_json(const HostState& state);
[[nodiscard]] Result<HostState> host_state_from_json(std::string_view text);

struct SideValue {
    std::optional<std::string> value;  // shared by every host of the side; none if they differ
    std::map<std::string, std::string> by_host;  // host -> value ("(none)" when absent)
};

struct EnvDifference {
    std::string subject;  // "package nginx", "kernel", "file /etc/app.conf", "states"
    SideValue left;
    SideValue right;
};

struct RoleComparison {
    std::string roles;  // the role set, "base+web"
    std::vector<std::string> left_hosts;
    std::vector<std::string> right_hosts;
    std::vector<EnvDifference> differences;
};

struct EnvComparison {
    std::string left_env;
    std::string right_env;
    std::vector<RoleComparison> roles;  // role sets present on both sides
    std::vector<std::string> notes;     // role sets on one side only, hosts without data
    size_t difference_count() const;
};

// Hosts are grouped by their role set; within a group every subject (package, kernel, managed
// path, assigned states) is compared, and a difference is reported when the two sides do not
// hold the same set of values.
EnvComparison compare_environments(const std::string& left_env, const std::vector<HostState>& left,
                                   const std::string& right_env,
                                   const std::vector<HostState>& right);

}  // namespace shipshape::state
