// The ops repo as a whole: where it is, its shipshape.toml and its inventory.toml. Loading
// validates both files and reports every problem with file:line:col, like checklists.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/error.hpp"
#include "release/release.hpp"

namespace shipshape::app {

struct ProjectConfig {
    std::string name;
    std::string description;
    // The Debian package that is the project's software: the dashboard reads its installed
    // version from each host's facts when no apply recorded a `version` parameter. "" : none.
    std::string package;
    std::string store;  // a path relative to the repo root, or sqlite:PATH / postgresql://...
    std::string default_env = "local";
    std::vector<std::string> secrets;  // names of environment variables whose values are redacted
    // [roles]: role name -> state files (repo-relative), in application order.
    std::map<std::string, std::vector<std::string>> roles;
    std::map<std::string, SourcePos> role_pos;
    // [stage.NAME]: the stages a release moves through, earliest first (by their `after` chains,
    // then by name). Empty: the repo has no release stages.
    std::vector<release::Stage> stages;
    // [lab] subnet: the lab's IPv4 /24 ("10.1.2.0/24"); "" : one derived from the repo's path.
    std::string lab_subnet;

    const release::Stage* find_stage(std::string_view stage) const;
    // The stage whose runs use environment `env`, or nullptr.
    const release::Stage* stage_for_env(std::string_view env) const;
};

struct Host {
    std::string name;
    std::string address;
    std::string user;
    int port = 22;
    std::map<std::string, std::string> tags;
};

struct Environment {
    std::string name;
    std::vector<std::string> hosts;
};

// [ssh] of inventory.toml: how the fleet transport reaches remote hosts. Paths are relative to
// the ops repo root. Empty strings leave the user's own ssh configuration in charge.
struct SshConfig {
    std::string config;                // an ssh_config file (-F)
    std::string identity;              // a private key (-i)
    std::vector<std::string> options;  // extra "-o Key=Value" settings
    std::string known_hosts;           // "strict", "accept-new", "off" or "" (ssh's own)
    std::string connect_timeout = "10s";
    std::string persist = "60s";  // how long an idle master connection stays up
    std::string timeout = "30m";  // per host and operation
    int forks = 0;                // 0: sized for the fleet
};

struct Inventory {
    std::vector<Environment> environments;
    SshConfig ssh;
    std::vector<Host> hosts;
    std::map<std::string, std::vector<std::string>> groups;
    std::map<std::string, std::vector<std::string>> group_roles;  // [group.X] roles = [...]
    std::map<std::string, SourcePos> group_roles_pos;
    // Accepted, but worth telling: "inventory.toml:LINE:COL: warning: ..." (two host names with
    // one address).
    std::vector<std::string> warnings;

    const Environment* find_env(std::string_view name) const;
    // The roles of `host`: the union of its groups' roles, sorted.
    std::vector<std::string> roles_of(const std::string& host) const;
    std::vector<std::string> env_names() const;
};

struct Project {
    std::string root;  // absolute path of the directory holding shipshape.toml
    ProjectConfig config;
    Inventory inventory;

    std::string state_dir() const { return root + "/.shipshape"; }
    std::string store_location() const;
};

// Walks up from `start` to the nearest directory holding shipshape.toml. Errc::not_found says
// where it looked and how to fix it.
[[nodiscard]] Result<std::string> find_project_root(const std::string& start);

// Loads and validates shipshape.toml and inventory.toml (optional) under `root`.
// Errc::invalid_definition lists every problem, one "file:line:col: message" per line.
[[nodiscard]] Result<Project> load_project(const std::string& root);

// The inventory `shipshape lab up` writes beside inventory.toml (and `lab down` removes).
inline constexpr const char* k_lab_inventory = "inventory.lab.toml";

// Adds the lab inventory's environments and hosts to `main`. An environment or host defined
// in both is Errc::invalid_definition naming both files. The lab's [ssh] config (which includes
// the main one) replaces the main one; its other [ssh] settings are ignored.
[[nodiscard]] Status merge_lab_inventory(Inventory& main, Inventory lab,
                                         const std::string& main_path, const std::string& lab_path);

// Pure parsers behind load_project, for tests: `path` is used in messages only.
[[nodiscard]] Result<ProjectConfig> parse_project_config(std::string_view text,
                                                         std::string_view path);
[[nodiscard]] Result<Inventory> parse_inventory(std::string_view text, std::string_view path);

}  // namespace shipshape::app
