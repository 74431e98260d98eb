// Cross-resource checks of desired state (see load.hpp), and reading the target's accounts.

#include <algorithm>
#include <map>

#include "os/file_system.hpp"
#include "state/accounts.hpp"
#include "state/load.hpp"

namespace shipshape::state {

namespace {

std::string where(const Resource& r) {
    return r.state_file + ":" + std::to_string(r.pos.line);
}

bool inside(const std::string& path, const std::string& dir) {
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           path[dir.size()] == '/';
}

}  // namespace

void validate_state(const std::vector<Resource>& resources, const Accounts& accounts,
                    Diagnostics& diags) {
    std::map<std::string, const Resource*> by_key;
    std::set<std::string, std::less<>> users = accounts.users;
    std::set<std::string, std::less<>> groups = accounts.groups;
    std::vector<const Resource*> trees;
    for (const auto& r : resources) {
        if (r.kind == Kind::user && !r.name.empty()) {
            users.insert(r.name);
        }
        if (r.kind == Kind::group && !r.name.empty()) {
            groups.insert(r.name);
        }
        if (r.kind == Kind::tree) {
            trees.push_back(&r);
        }
    }
    for (const auto& r : resources) {
        if (r.kind == Kind::command || r.key().empty() || (r.is_path_kind() && r.path.empty()) ||
            (!r.is_path_kind() && r.name.empty())) {
            continue;
        }
        // The parser and load_state check every path; resources built any other way are checked
        // here, as a path with a NUL would compare unequal to the path the system acts on.
        if (r.is_path_kind()) {
            if (std::string why = path_rule(r.path); !why.empty()) {
                diags.add(r.state_file, r.pos,
                          "[[" + std::string(kind_name(r.kind)) + "]] 'path' " + why);
                continue;
            }
        }
        auto [it, inserted] = by_key.emplace(r.key(), &r);
        if (!inserted) {
            const Resource& first = *it->second;
            bool both_lines = first.kind == Kind::line && r.kind == Kind::line;
            if (both_lines) {
                continue;
            }
            if (first.kind == r.kind) {
                diags.add(r.state_file, r.pos,
                          "duplicate " + r.label() + ": already declared at " + where(first));
            } else {
                diags.add(r.state_file, r.pos,
                          "conflicting resources for " + (r.is_path_kind() ? r.path : r.name) +
                              ": " + std::string(kind_name(r.kind)) + " here and " +
                              std::string(kind_name(first.kind)) + " at " + where(first));
            }
        }
        if (r.is_path_kind() && r.kind != Kind::tree) {
            for (const Resource* t : trees) {
                if (inside(r.path, t->path)) {
                    diags.add(r.state_file, r.pos,
                              r.label() + " lies inside the tree at " + t->path + " (" + where(*t) +
                                  "), which manages everything under it");
                }
            }
        }
    }
    for (const auto& r : resources) {
        if (r.owner && !accounts.any && !users.count(*r.owner) &&
            !(accounts.nss && nss_user(*r.owner))) {
            diags.add(r.state_file, r.owner_pos,
                      "unknown user \"" + *r.owner + "\" for " + r.label() +
                          ": declare it with [[user]] or create it on the host first");
        }
        if (r.group && !accounts.any && !groups.count(*r.group) &&
            !(accounts.nss && nss_group(*r.group))) {
            diags.add(r.state_file, r.group_pos,
                      "unknown group \"" + *r.group + "\" for " + r.label() +
                          ": declare it with [[group]] or create it on the host first");
        }
        for (const auto& ref : r.restart_on) {
            bool known = std::any_of(resources.begin(), resources.end(),
                                     [&](const Resource& other) { return other.answers_to(ref); });
            if (!known && !accounts.any) {
                diags.add(r.state_file, r.restart_on_pos,
                          "restart_on names \"" + ref +
                              "\", which no resource of the state declares (name one as plan "
                              "shows it: \"file /etc/booking/app.conf\", \"package booking\")");
            }
        }
        for (const auto& path : accounts.any ? std::vector<std::string>{} : r.when_changed) {
            bool managed = by_key.count(path) > 0;
            for (const Resource* t : trees) {
                managed = managed || inside(path, t->path);
            }
            if (!managed) {
                diags.add(r.state_file, r.when_changed_pos,
                          "when_changed names \"" + path +
                              "\", which no file, directory, tree, symlink, line or absent "
                              "resource manages");
            }
        }
    }
}

std::vector<Diagnostic> shell_warnings(const std::vector<Resource>& resources) {
    std::vector<Diagnostic> out;
    // The inventory's (host, host.address, host.tags.*, env): as trusted as the state itself.
    auto trusted = [](const std::string& n) {
        return n == "host" || n == "env" || n.rfind("host.", 0) == 0;
    };
    for (const auto& r : resources) {
        for (auto [argv, key] : {std::pair{&r.run, "run"}, std::pair{&r.unless, "unless"}}) {
            long i = shell_script_index(*argv);
            if (i < 0) {
                continue;
            }
            for (const auto& ref : unquoted_shell_refs((*argv)[static_cast<size_t>(i)], trusted)) {
                out.push_back(Diagnostic{
                    r.state_file, r.pos,
                    "[[command]] '" + std::string(key) + "' puts {{" + ref.name +
                        "}} into the script of '" + argv->front() +
                        " -c' unquoted: a value with a space, a quote or ';' changes the "
                        "command; write {{" +
                        ref.name + " | sh}}",
                    Severity::warning});
            }
        }
    }
    return out;
}

namespace {

std::set<std::string, std::less<>> first_fields(const std::string& path) {
    std::set<std::string, std::less<>> out;
    auto text = os::read_whole_file(path);  // a missing file: no names
    std::string_view rest = text ? std::string_view(*text) : std::string_view();
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        auto colon = line.find(':');
        if (colon != std::string_view::npos && colon > 0 && line[0] != '#') {
            out.emplace(line.substr(0, colon));
        }
    }
    return out;
}

}  // namespace

Accounts read_accounts(const std::string& passwd_path, const std::string& group_path) {
    return Accounts{first_fields(passwd_path), first_fields(group_path)};
}

}  // namespace shipshape::state
