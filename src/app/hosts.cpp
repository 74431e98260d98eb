#include "app/hosts.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>

namespace shipshape::app {

namespace {

bool is_local_address(const std::string& name, const std::string& address) {
    return name == "localhost" || address == "localhost" || address == "::1" ||
           address.rfind("127.", 0) == 0;
}

}  // namespace

std::vector<SelectedHost> all_hosts(const Inventory& inv) {
    std::map<std::string, SelectedHost> hosts;
    auto touch = [&](const std::string& name) -> SelectedHost& {
        auto& h = hosts[name];
        if (h.name.empty()) {
            h.name = name;
            h.address = name;
        }
        return h;
    };
    for (const auto& e : inv.environments) {
        for (const auto& h : e.hosts) {
            touch(h).env = e.name;
        }
    }
    for (const auto& [group, members] : inv.groups) {
        for (const auto& m : members) {
            touch(m);
        }
    }
    for (const auto& h : inv.hosts) {
        auto& s = touch(h.name);
        if (!h.address.empty()) {
            s.address = h.address;
        }
        s.tags = h.tags;
        s.user = h.user;
        s.port = h.port;
    }
    std::vector<SelectedHost> out;
    for (auto& [name, h] : hosts) {
        h.local = is_local_address(h.name, h.address);
        out.push_back(std::move(h));
    }
    return out;
}

Result<std::vector<SelectedHost>> select_hosts(const Inventory& inv,
                                               const std::vector<std::string>& patterns) {
    const auto hosts = all_hosts(inv);
    std::set<std::string> chosen;
    for (const auto& p : patterns) {
        size_t before = chosen.size();
        bool matched = false;
        if (p.rfind("group:", 0) == 0) {
            auto it = inv.groups.find(p.substr(6));
            if (it == inv.groups.end()) {
                return fail(Errc::invalid_argument,
                            "no group '" + p.substr(6) + "' in inventory.toml");
            }
            chosen.insert(it->second.begin(), it->second.end());
            matched = !it->second.empty();
        } else if (p.rfind("env:", 0) == 0) {
            const Environment* env = inv.find_env(p.substr(4));
            if (!env) {
                return fail(Errc::invalid_argument,
                            "no environment '" + p.substr(4) + "' in inventory.toml");
            }
            chosen.insert(env->hosts.begin(), env->hosts.end());
            matched = !env->hosts.empty();
        } else {
            for (const auto& h : hosts) {
                if (::fnmatch(p.c_str(), h.name.c_str(), 0) == 0) {
                    chosen.insert(h.name);
                    matched = true;
                }
            }
        }
        if (!matched && chosen.size() == before) {
            return fail(Errc::invalid_argument, "no host matches '" + p +
                                                    "' (see 'shipshape hosts'; patterns: NAME, "
                                                    "glob such as web*, group:NAME, env:NAME)");
        }
    }
    std::vector<SelectedHost> out;
    for (const auto& h : hosts) {
        if (chosen.count(h.name)) {
            out.push_back(h);
        }
    }
    return out;
}

}  // namespace shipshape::app
