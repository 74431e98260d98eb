// Host selection: which inventory hosts a command applies to. Patterns are exact names, globs
// ("web*"), "group:NAME" and "env:NAME"; several patterns add up. Pure.
#pragma once

#include <string>
#include <vector>

#include "app/project.hpp"
#include "core/error.hpp"

namespace shipshape::app {

struct SelectedHost {
    std::string name;
    std::string address;  // the name itself when the inventory gives no address
    std::string env;      // "" when no environment lists it
    std::string user;     // "" leaves it to ssh
    int port = 22;
    std::map<std::string, std::string> tags;
    bool local = false;  // this machine: commands run here without ssh
};

// Every host the inventory knows, sorted by name.
std::vector<SelectedHost> all_hosts(const Inventory& inventory);

// The hosts matching any of `patterns`, sorted by name. Errc::invalid_argument names a pattern
// that matches nothing (and the unknown group or environment it names).
[[nodiscard]] Result<std::vector<SelectedHost>> select_hosts(
    const Inventory& inventory, const std::vector<std::string>& patterns);

}  // namespace shipshape::app
