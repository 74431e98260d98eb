#include "app/hosts.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/text.hpp"

namespace shipshape::app {

namespace {

bool is_local_address(const std::string& name, const std::string& address) {
    return name == "localhost" || address == "localhost" || address == "::1" ||
           address.rfind("127.", 0) == 0;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
}

constexpr const char* k_host_name_rule =
    "host names are DNS names: letters, digits, '-' and '_', with '.' between labels of 1 to "
    "63 characters (253 in all)";

}  // namespace

std::string host_name_problem(std::string_view name) {
    if (name.empty()) {
        return std::string("it is empty; ") + k_host_name_rule;
    }
    for (size_t i = 0; i < name.size(); ++i) {
        if (name[i] != '.' && !is_label_char(name[i])) {
            // The character as UTF-8 when it is one, escaped when it is a control character.
            size_t end = i + 1;
            while (end < name.size() && (static_cast<unsigned char>(name[end]) & 0xc0U) == 0x80) {
                ++end;
            }
            return "character " + std::to_string(i + 1) + " ('" +
                   escape_control(name.substr(i, end - i)) + "') is not allowed; " +
                   k_host_name_rule;
        }
    }
    if (name.size() > 253) {
        return "it has " + std::to_string(name.size()) + " characters; " + k_host_name_rule;
    }
    size_t start = 0;
    for (;;) {
        size_t dot = name.find('.', start);
        std::string_view label = name.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty()) {
            return "it has an empty label at character " + std::to_string(start + 1) + "; " +
                   k_host_name_rule;
        }
        if (label.size() > 63) {
            return "the label at character " + std::to_string(start + 1) + " has " +
                   std::to_string(label.size()) + " characters; " + k_host_name_rule;
        }
        if (label.front() == '-' || label.back() == '-') {
            return "the label '" + std::string(label) + "' starts or ends with '-'; " +
                   k_host_name_rule;
        }
        if (dot == std::string_view::npos) {
            return "";
        }
        start = dot + 1;
    }
}

bool natural_less(std::string_view a, std::string_view b) {
    size_t i = 0;
    size_t j = 0;
    while (i < a.size() && j < b.size()) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            size_t ie = i;
            size_t je = j;
            while (ie < a.size() && is_digit(a[ie])) {
                ++ie;
            }
            while (je < b.size() && is_digit(b[je])) {
                ++je;
            }
            // Compare the numbers without leading zeros: longer is larger, else digit by digit.
            size_t is = i;
            size_t js = j;
            while (is + 1 < ie && a[is] == '0') {
                ++is;
            }
            while (js + 1 < je && b[js] == '0') {
                ++js;
            }
            if (ie - is != je - js) {
                return ie - is < je - js;
            }
            int c = a.substr(is, ie - is).compare(b.substr(js, je - js));
            if (c != 0) {
                return c < 0;
            }
            i = ie;
            j = je;
            continue;
        }
        if (a[i] != b[j]) {
            return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
        }
        ++i;
        ++j;
    }
    if (i < a.size() || j < b.size()) {
        return j < b.size();  // a ran out first: a prefix sorts first
    }
    return a < b;  // same numbers, different padding: a stable tie-break
}

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
    std::sort(out.begin(), out.end(), [](const SelectedHost& x, const SelectedHost& y) {
        return natural_less(x.name, y.name);
    });
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

SelectedHost this_machine() {
    SelectedHost self;
    self.name = "localhost";
    self.address = "127.0.0.1";
    self.local = true;
    return self;
}

Result<std::vector<SelectedHost>> select_hosts_or_all(const Inventory& inventory,
                                                      const std::vector<std::string>& patterns) {
    if (patterns.empty()) {
        return all_hosts(inventory);
    }
    return select_hosts(inventory, patterns);
}

Result<std::vector<SelectedHost>> select_hosts_or_this_machine(
    const Inventory* inventory, const std::vector<std::string>& patterns) {
    if (patterns.empty() || (patterns.size() == 1 && patterns.front() == "localhost")) {
        if (inventory) {
            for (auto& h : all_hosts(*inventory)) {
                if (h.name == "localhost") {
                    return std::vector<SelectedHost>{std::move(h)};
                }
            }
        }
        return std::vector<SelectedHost>{this_machine()};
    }
    if (!inventory) {
        return fail(Errc::invalid_argument,
                    "naming hosts ('" + patterns.front() +
                        "') needs an ops repo with an inventory.toml; outside one, only this "
                        "machine (localhost) can be asked");
    }
    return select_hosts(*inventory, patterns);
}

}  // namespace shipshape::app
