// The ops repo's model (project.hpp) apart from reading it: lookups over the configuration and
// inventory, where the store is, and finding the repo's root. The TOML adapter is
// project_toml.cpp.
#include <unistd.h>

#include <algorithm>
#include <set>

#include "app/project.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

const release::Stage* ProjectConfig::find_stage(std::string_view stage) const {
    for (const auto& s : stages) {
        if (s.name == stage) {
            return &s;
        }
    }
    return nullptr;
}

const release::Stage* ProjectConfig::stage_for_env(std::string_view env) const {
    for (const auto& s : stages) {
        if (s.env == env) {
            return &s;
        }
    }
    return nullptr;
}

const Environment* Inventory::find_env(std::string_view name) const {
    for (const auto& e : environments) {
        if (e.name == name) {
            return &e;
        }
    }
    return nullptr;
}

std::vector<std::string> Inventory::roles_of(const std::string& host) const {
    std::set<std::string> out;
    for (const auto& [group, members] : groups) {
        if (std::find(members.begin(), members.end(), host) == members.end()) {
            continue;
        }
        if (auto it = group_roles.find(group); it != group_roles.end()) {
            out.insert(it->second.begin(), it->second.end());
        }
    }
    return {out.begin(), out.end()};
}

std::vector<std::string> Inventory::env_names() const {
    std::vector<std::string> out;
    for (const auto& e : environments) {
        out.push_back(e.name);
    }
    return out;
}

std::string Project::store_location() const {
    const std::string& s = config.store;
    if (s.find("://") != std::string::npos) {
        return s;
    }
    std::string path = s.rfind("sqlite:", 0) == 0 ? s.substr(7) : s;
    return os::path_absolute(path, root);
}

Result<std::string> find_project_root(const std::string& start) {
    std::string dir = start;
    for (;;) {
        if (::access((dir + "/shipshape.toml").c_str(), F_OK) == 0) {
            return dir;
        }
        if (dir == "/" || dir.empty()) {
            break;
        }
        dir = os::path_parent(dir);
    }
    return fail(Errc::not_found, "no shipshape.toml in '" + start +
                                     "' or any parent directory: run 'shipshape init DIR' to "
                                     "create an ops repo, or pass -C DIR");
}

Status merge_lab_inventory(Inventory& main, Inventory lab, const std::string& main_path,
                           const std::string& lab_path) {
    std::string errors;
    auto clash = [&](const std::string& what) {
        errors += (errors.empty() ? "" : "\n") + what + " is defined in both " + main_path +
                  " and " + lab_path +
                  " (the lab's, written by `shipshape lab up`): rename "
                  "one, or `shipshape lab down`";
    };
    std::set<std::string> main_hosts;
    for (const auto& e : main.environments) {
        main_hosts.insert(e.hosts.begin(), e.hosts.end());
    }
    for (const auto& h : main.hosts) {
        main_hosts.insert(h.name);
    }
    for (auto& h : lab.hosts) {
        if (main_hosts.count(h.name)) {
            clash("host '" + h.name + "'");
            continue;
        }
        main.hosts.push_back(std::move(h));
    }
    for (auto& e : lab.environments) {
        if (main.find_env(e.name)) {
            clash("environment '" + e.name + "'");
            continue;
        }
        main.environments.push_back(std::move(e));
    }
    if (!errors.empty()) {
        return fail(Errc::invalid_definition, errors);
    }
    if (!lab.ssh.config.empty()) {
        main.ssh.config = lab.ssh.config;
    }
    return {};
}

}  // namespace shipshape::app
