// The toml++ adapter for shipshape.toml and inventory.toml.
#include <algorithm>
#include <map>
#include <set>

#include "app/hosts.hpp"
#include "app/image_check_policy.hpp"
#include "app/project.hpp"
#include "core/diagnostic.hpp"
#include "core/duration.hpp"
#include "core/text.hpp"
#include "core/toml_reader.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

namespace {

// Keyed lookups with this file's wording on top of the shared TomlReader.
class Checker : public TomlReader {
  public:
    using TomlReader::error;
    using TomlReader::TomlReader;

    void error(const toml::source_region& r, std::string message) {
        TomlReader::error(toml_pos(r), std::move(message));
    }

    std::string string(const toml::table& t, std::string_view key, std::string_view where,
                       std::string fallback = "") {
        const toml::node* n = t.get(key);
        if (!n) {
            return fallback;
        }
        if (auto s = n->as_string()) {
            return s->get();
        }
        error(n->source(), std::string(where) + " '" + std::string(key) + "' must be a string");
        return fallback;
    }

    std::vector<std::string> strings(const toml::table& t, std::string_view key,
                                     std::string_view where) {
        std::vector<std::string> out;
        const toml::node* n = t.get(key);
        if (!n) {
            return out;
        }
        auto arr = n->as_array();
        if (!arr) {
            error(n->source(),
                  std::string(where) + " '" + std::string(key) + "' must be an array of strings");
            return out;
        }
        for (auto&& item : *arr) {
            if (auto s = item.as_string()) {
                out.push_back(s->get());
            } else {
                error(item.source(),
                      std::string(where) + " '" + std::string(key) + "' items must be strings");
            }
        }
        return out;
    }

    // Reports each string of the array `key` that repeats an earlier one, where it repeats.
    void no_repeats(const toml::table& t, std::string_view key, std::string_view where) {
        auto arr = t.get(key) ? t.get(key)->as_array() : nullptr;
        if (!arr) {
            return;
        }
        std::set<std::string> seen;
        for (auto&& item : *arr) {
            auto s = item.as_string();
            if (s && !seen.insert(s->get()).second) {
                error(item.source(),
                      std::string(where) + " lists host '" + s->get() + "' more than once");
            }
        }
    }

    // Reports each string of the array `key` that is not a valid host name, where it stands.
    void host_names(const toml::table& t, std::string_view key) {
        auto arr = t.get(key) ? t.get(key)->as_array() : nullptr;
        if (!arr) {
            return;
        }
        for (auto&& item : *arr) {
            if (auto s = item.as_string()) {
                host_name(item.source(), s->get());
            }
        }
    }

    void host_name(const toml::source_region& where, const std::string& name) {
        if (auto problem = host_name_problem(name); !problem.empty()) {
            error(where, "host name '" + escape_control(name) + "': " + problem);
        }
    }

    const toml::table* table(const toml::table& t, std::string_view key, std::string_view where) {
        const toml::node* n = t.get(key);
        if (!n) {
            return nullptr;
        }
        if (auto tt = n->as_table()) {
            return tt;
        }
        error(n->source(), std::string(where) + " '" + std::string(key) + "' must be a table");
        return nullptr;
    }
};

Result<toml::table> parse_toml(std::string_view text, std::string_view path, Diagnostics& diags) {
    TomlReader reader{std::string(path), diags};
    auto doc = reader.parse(text);
    if (!doc) {
        return fail(diags.to_error());
    }
    return std::move(*doc);
}

bool valid_name(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

// [stage.NAME] after = "...", env = "...", sign_offs = { role = N }: checked, then ordered
// earliest first (depth in the `after` chain, then name). A cycle is reported once per stage on it.
std::vector<release::Stage> read_stages(Checker& c, const toml::table& stages) {
    std::vector<release::Stage> out;
    for (auto&& [key, node] : stages) {
        release::Stage st;
        st.name = std::string(key.str());
        st.pos = toml_pos(key.source());
        const std::string where = "stage '" + st.name + "'";
        if (!valid_name(st.name)) {
            c.error(key.source(), where +
                                      ": names may contain only letters, digits, '-', '_' "
                                      "and '.'");
        }
        auto t = node.as_table();
        if (!t) {
            c.error(node.source(), where + " must be a table (write [stage." + st.name + "])");
            continue;
        }
        c.check_keys(*t, where, {"after", "env", "sign_offs"});
        st.after = c.string(*t, "after", where);
        st.env = c.string(*t, "env", where, st.name);
        if (auto offs = c.table(*t, "sign_offs", where)) {
            for (auto&& [role, count] : *offs) {
                std::string r(role.str());
                auto n = count.as_integer();
                if (!valid_name(r)) {
                    c.error(role.source(), where + " sign_offs: role '" + r +
                                               "': names may contain only letters, digits, "
                                               "'-', '_' and '.'");
                } else if (!n || n->get() < 1 || n->get() > 100) {
                    c.error(count.source(), where + " sign_offs." + r +
                                                " must be a number of people from 1 to 100");
                } else {
                    st.sign_offs.emplace_back(r, static_cast<int>(n->get()));
                }
            }
        }
        out.push_back(std::move(st));
    }
    std::map<std::string, const release::Stage*> by_name;
    for (const auto& st : out) {
        by_name[st.name] = &st;
    }
    std::map<std::string, int> depth;
    for (const auto& st : out) {
        int d = 0;
        const release::Stage* at = &st;
        std::set<std::string> seen{st.name};
        while (!at->after.empty()) {
            auto it = by_name.find(at->after);
            if (it == by_name.end()) {
                if (at == &st) {
                    c.error(
                        stages.get(st.name)->as_table()->get("after")->source(),
                        "stage '" + st.name + "' comes after '" + st.after +
                            "', which is not a stage (stages: " +
                            [&] {
                                std::string names;
                                for (const auto& [n, _] : by_name) {
                                    names += (names.empty() ? "" : ", ") + n;
                                }
                                return names;
                            }() +
                            ")");
                }
                break;
            }
            if (!seen.insert(it->first).second) {
                c.error(stages.get(st.name)->as_table()->get("after")->source(),
                        "stage '" + st.name + "': its 'after' chain is a cycle");
                break;
            }
            at = it->second;
            ++d;
        }
        depth[st.name] = d;
    }
    std::sort(out.begin(), out.end(), [&depth](const auto& a, const auto& b) {
        return std::pair(depth[a.name], a.name) < std::pair(depth[b.name], b.name);
    });
    return out;
}

}  // namespace

Result<ProjectConfig> parse_project_config(std::string_view text, std::string_view path) {
    Diagnostics diags;
    auto doc = parse_toml(text, path, diags);
    if (!doc) {
        return fail(doc.error());
    }
    Checker c(std::string(path), diags);
    c.check_keys(*doc, "shipshape.toml",
                 {"name", "description", "store", "default_env", "secrets", "roles", "package",
                  "stage", "image", "lab"});
    ProjectConfig config;
    config.name = c.string(*doc, "name", "shipshape.toml");
    config.description = c.string(*doc, "description", "shipshape.toml");
    config.package = c.string(*doc, "package", "shipshape.toml");
    config.store = c.string(*doc, "store", "shipshape.toml", ".shipshape/state.db");
    config.default_env = c.string(*doc, "default_env", "shipshape.toml", "local");
    config.secrets = c.strings(*doc, "secrets", "shipshape.toml");
    if (auto lab = c.table(*doc, "lab", "shipshape.toml")) {
        c.check_keys(*lab, "[lab]", {"subnet"});
        config.lab_subnet = c.string(*lab, "subnet", "[lab]");
    }
    if (auto roles = c.table(*doc, "roles", "shipshape.toml")) {
        for (auto&& [key, node] : *roles) {
            std::string role(key.str());
            std::string where = "role '" + role + "'";
            if (!valid_name(role)) {
                c.error(key.source(),
                        where + ": names may contain only letters, digits, '-', '_' and '.'");
            }
            config.roles[role] = c.strings(*roles, role, "[roles]");
            config.role_pos[role] = toml_pos(node.source());
            for (const auto& f : config.roles[role]) {
                if (f.empty() || f.front() == '/' || f.find("..") != std::string::npos) {
                    c.error(node.source(), where +
                                               ": state files are paths relative to the ops "
                                               "repo without '..', found \"" +
                                               f + "\"");
                }
            }
        }
    }
    if (auto stages = c.table(*doc, "stage", "shipshape.toml")) {
        config.stages = read_stages(c, *stages);
    }
    if (doc->get("image") != nullptr) {
        (void)read_check_policy(text, path, diags);  // image check reads it again when it runs
    }
    if (!doc->get("name")) {
        diags.add(std::string(path), SourcePos{1, 1}, "shipshape.toml needs a 'name'");
    }
    for (const auto& s : config.secrets) {
        if (s.empty() || s.find('=') != std::string::npos) {
            diags.add(std::string(path), toml_pos(doc->get("secrets")->source()),
                      "secrets must name environment variables, found '" + s + "'");
        }
    }
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    return config;
}

Result<Inventory> parse_inventory(std::string_view text, std::string_view path) {
    Diagnostics diags;
    auto doc = parse_toml(text, path, diags);
    if (!doc) {
        return fail(doc.error());
    }
    Checker c(std::string(path), diags);
    c.check_keys(*doc, "inventory.toml", {"env", "group", "host", "ssh"});
    Inventory inv;
    if (auto ssh = c.table(*doc, "ssh", "inventory.toml")) {
        const std::string where = "[ssh]";
        c.check_keys(*ssh, where,
                     {"config", "identity", "options", "known_hosts", "connect_timeout", "persist",
                      "timeout", "forks"});
        auto& s = inv.ssh;
        s.config = c.string(*ssh, "config", where);
        s.identity = c.string(*ssh, "identity", where);
        s.options = c.strings(*ssh, "options", where);
        for (const auto& o : s.options) {
            if (o.find('=') == std::string::npos || o.front() == '-') {
                c.error(
                    ssh->get("options")->source(),
                    where + " options are ssh -o settings written Key=Value, found \"" + o + "\"");
            }
        }
        s.known_hosts = c.string(*ssh, "known_hosts", where);
        if (!s.known_hosts.empty() && s.known_hosts != "strict" && s.known_hosts != "accept-new" &&
            s.known_hosts != "off") {
            c.error(ssh->get("known_hosts")->source(),
                    where + " known_hosts must be \"strict\", \"accept-new\" or \"off\", found \"" +
                        s.known_hosts + "\"");
        }
        for (const char* key : {"connect_timeout", "persist", "timeout"}) {
            if (auto n = ssh->get(key)) {
                std::string v = c.string(*ssh, key, where);
                auto d = parse_duration(v);
                if (!d || d->count() <= 0) {
                    c.error(n->source(),
                            where + " " + key +
                                " must be a duration like \"10s\" or \"5m\", found \"" + v + "\"");
                }
                (std::string_view(key) == "connect_timeout" ? s.connect_timeout
                 : std::string_view(key) == "persist"       ? s.persist
                                                            : s.timeout) = v;
            }
        }
        if (auto f = ssh->get("forks")) {
            auto i = f->as_integer();
            if (!i || i->get() < 1 || i->get() > 1000) {
                c.error(f->source(), where + " forks must be an integer from 1 to 1000");
            } else {
                s.forks = static_cast<int>(i->get());
            }
        }
    }
    std::map<std::string, std::string> host_env;  // host -> the environment that lists it
    if (auto envs = c.table(*doc, "env", "inventory.toml")) {
        for (auto&& [key, node] : *envs) {
            std::string name(key.str());
            std::string where = "env '" + name + "'";
            if (!valid_name(name)) {
                c.error(key.source(),
                        where + ": names may contain only letters, digits, '-', '_' and '.'");
            }
            auto t = node.as_table();
            if (!t) {
                c.error(node.source(), where + " must be a table (write [env." + name + "])");
                continue;
            }
            c.check_keys(*t, where, {"hosts", "description"});
            Environment env{name, c.strings(*t, "hosts", where)};
            c.no_repeats(*t, "hosts", where);
            c.host_names(*t, "hosts");
            for (const auto& h : env.hosts) {
                auto [it, inserted] = host_env.emplace(h, name);
                if (!inserted && it->second != name) {
                    c.error(t->get("hosts")->source(), "host '" + h + "' is in environments '" +
                                                           it->second + "' and '" + name +
                                                           "': a host belongs to one environment");
                }
            }
            inv.environments.push_back(std::move(env));
        }
    }
    if (auto groups = c.table(*doc, "group", "inventory.toml")) {
        for (auto&& [key, node] : *groups) {
            std::string name(key.str());
            std::string where = "group '" + name + "'";
            auto t = node.as_table();
            if (!t) {
                c.error(node.source(), where + " must be a table (write [group." + name + "])");
                continue;
            }
            c.check_keys(*t, where, {"hosts", "description", "roles"});
            inv.groups[name] = c.strings(*t, "hosts", where);
            c.no_repeats(*t, "hosts", where);
            c.host_names(*t, "hosts");
            if (auto r = t->get("roles")) {
                inv.group_roles[name] = c.strings(*t, "roles", where);
                inv.group_roles_pos[name] = toml_pos(r->source());
            }
        }
    }
    if (auto hosts = c.table(*doc, "host", "inventory.toml")) {
        for (auto&& [key, node] : *hosts) {
            Host h;
            h.name = std::string(key.str());
            c.host_name(key.source(), h.name);
            std::string where = "host '" + h.name + "'";
            auto t = node.as_table();
            if (!t) {
                c.error(node.source(), where + " must be a table (write [host." + h.name + "])");
                continue;
            }
            c.check_keys(*t, where, {"address", "user", "port", "tags"});
            h.address = c.string(*t, "address", where, h.name);
            h.user = c.string(*t, "user", where);
            if (auto p = t->get("port")) {
                auto i = p->as_integer();
                if (!i || i->get() < 1 || i->get() > 65535) {
                    c.error(p->source(), where + " 'port' must be an integer from 1 to 65535");
                } else {
                    h.port = static_cast<int>(i->get());
                }
            }
            if (auto tags = c.table(*t, "tags", where)) {
                for (auto&& [tk, tv] : *tags) {
                    if (auto s = tv.as_string()) {
                        h.tags[std::string(tk.str())] = s->get();
                    } else {
                        c.error(tv.source(),
                                where + " tag '" + std::string(tk.str()) + "' must be a string");
                    }
                }
            }
            inv.hosts.push_back(std::move(h));
        }
    }
    // Every host named in a group must exist somewhere: in an environment or as a [host.X].
    std::set<std::string> known;
    for (const auto& e : inv.environments) {
        known.insert(e.hosts.begin(), e.hosts.end());
    }
    for (const auto& h : inv.hosts) {
        known.insert(h.name);
    }
    if (auto groups = doc->get("group"); groups && groups->is_table()) {
        for (const auto& [name, members] : inv.groups) {
            for (const auto& m : members) {
                if (!known.count(m) && host_name_problem(m).empty()) {
                    c.error(groups->as_table()->get(name)->source(),
                            "group '" + name + "' lists unknown host '" + m + "'");
                }
            }
        }
    }
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    // Two names for one machine: a rolling step would run on it twice. Allowed (a host may have
    // an alias on purpose), but said every time the inventory is read for a run or validated.
    std::map<std::string, std::string> by_address;  // "address:port" -> the first host's name
    std::map<std::string, const Host*> declared;
    for (const auto& h : inv.hosts) {
        declared[h.name] = &h;
    }
    std::vector<std::string> names(known.begin(), known.end());
    for (const auto& name : names) {
        auto d = declared.find(name);
        const std::string address = d != declared.end() ? d->second->address : name;
        const int port = d != declared.end() ? d->second->port : 22;
        auto [it, inserted] = by_address.emplace(address + ":" + std::to_string(port), name);
        if (inserted) {
            continue;
        }
        SourcePos pos{1, 1};
        if (auto hosts = doc->get("host"); hosts && hosts->is_table()) {
            if (auto entry = hosts->as_table()->get(name); entry && entry->is_table()) {
                const toml::node* a = entry->as_table()->get("address");
                pos = toml_pos(a ? a->source() : entry->source());
            }
        }
        inv.warnings.push_back(std::string(path) + ":" + std::to_string(pos.line) + ":" +
                               std::to_string(pos.column) + ": warning: hosts '" + it->second +
                               "' and '" + name + "' have the same address " + address +
                               (port != 22 ? " port " + std::to_string(port) : "") +
                               ": a step on both runs twice on that machine");
    }
    return inv;
}

Result<Project> load_project(const std::string& root) {
    auto fs = os::make_local_file_system();
    Project p;
    p.root = root;
    auto text = fs->read_file(root + "/shipshape.toml");
    if (!text) {
        return fail(text.error());
    }
    auto config = parse_project_config(*text, root + "/shipshape.toml");
    std::string errors;
    if (config) {
        p.config = std::move(*config);
    } else {
        errors = config.error().message();
    }
    if (fs->exists(root + "/inventory.toml")) {
        auto inv_text = fs->read_file(root + "/inventory.toml");
        if (!inv_text) {
            return fail(inv_text.error());
        }
        auto inv = parse_inventory(*inv_text, root + "/inventory.toml");
        if (inv) {
            p.inventory = std::move(*inv);
        } else {
            errors += (errors.empty() ? "" : "\n") + inv.error().message();
        }
    }
    const std::string lab_path = root + "/" + k_lab_inventory;
    const bool no_environments = p.inventory.environments.empty();
    if (errors.empty() && fs->exists(lab_path)) {
        auto lab_text = fs->read_file(lab_path);
        if (!lab_text) {
            return fail(lab_text.error());
        }
        auto lab = parse_inventory(*lab_text, lab_path);
        if (!lab) {
            errors = lab.error().message();
        } else if (auto merged = merge_lab_inventory(p.inventory, std::move(*lab),
                                                     root + "/inventory.toml", lab_path);
                   !merged) {
            errors = merged.error().message();
        }
    }
    if (errors.empty()) {
        // Across the two files: every group's role exists, every role's state file exists.
        Diagnostics diags;
        for (const auto& [group, roles] : p.inventory.group_roles) {
            for (const auto& role : roles) {
                if (!p.config.roles.count(role)) {
                    diags.add(root + "/inventory.toml", p.inventory.group_roles_pos[group],
                              "group '" + group + "' has role '" + role +
                                  "', which [roles] in shipshape.toml does not define");
                }
            }
        }
        for (const auto& [role, files] : p.config.roles) {
            for (const auto& f : files) {
                if (!fs->exists(root + "/" + f)) {
                    diags.add(root + "/shipshape.toml", p.config.role_pos[role],
                              "role '" + role + "': state file '" + f + "' does not exist");
                }
            }
        }
        for (const auto& st : p.config.stages) {
            if (!p.inventory.environments.empty() && !p.inventory.find_env(st.env)) {
                diags.add(root + "/shipshape.toml", st.pos,
                          "stage '" + st.name + "' runs on environment '" + st.env +
                              "', which inventory.toml does not define (set [stage." + st.name +
                              "] env = \"...\")");
            }
        }
        if (!diags.empty()) {
            errors = diags.to_error().message();
        }
    }
    if (!errors.empty()) {
        return fail(Errc::invalid_definition, errors);
    }
    if (no_environments && !p.inventory.find_env("local")) {
        // Without an inventory every repo still has the workstation environment.
        p.inventory.environments.push_back(Environment{"local", {"localhost"}});
    }
    return p;
}

}  // namespace shipshape::app
