// Host selection: which inventory hosts a command applies to. Patterns are exact names, globs
// ("web*"), "group:NAME" and "env:NAME"; several patterns add up. Pure.
#pragma once

#include <string>
#include <string_view>
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

// Returns "" when `name` is a valid host name, else why not (a sentence to follow
// "host name 'NAME': "). Host names become file names (logs, facts) and ssh arguments, so they
// keep to DNS names plus '_': letters, digits, '-' and '_' in labels of 1 to 63 characters,
// '.' between labels, 253 characters in all, no label starting or ending with '-'.
std::string host_name_problem(std::string_view name);

// Natural order of names: runs of digits compare as numbers, so h6 < h10 < web2 < web10.
// Equal numbers with different zero padding fall back to plain order (h06 < h6).
bool natural_less(std::string_view a, std::string_view b);

// Every host the inventory knows, in natural order of names.
std::vector<SelectedHost> all_hosts(const Inventory& inventory);

// The hosts matching any of `patterns`, in natural order of names. Errc::invalid_argument names a
// pattern that matches nothing (and the unknown group or environment it names).
[[nodiscard]] Result<std::vector<SelectedHost>> select_hosts(
    const Inventory& inventory, const std::vector<std::string>& patterns);

// select_hosts, except that no patterns at all mean every host (hosts, fleet disconnect).
[[nodiscard]] Result<std::vector<SelectedHost>> select_hosts_or_all(
    const Inventory& inventory, const std::vector<std::string>& patterns);

// This machine when the inventory does not list it: "localhost" at 127.0.0.1.
SelectedHost this_machine();

// Hosts for commands about this machine that work anywhere (facts, require check): no patterns,
// or just "localhost", mean this machine (the inventory's localhost entry when it lists one);
// other patterns select from `inventory`, which is null outside an ops repo (then
// Errc::invalid_argument says naming hosts needs one).
[[nodiscard]] Result<std::vector<SelectedHost>> select_hosts_or_this_machine(
    const Inventory* inventory, const std::vector<std::string>& patterns);

}  // namespace shipshape::app
