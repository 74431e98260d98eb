// The toml++ adapter for image spec files.
#include <algorithm>
#include <set>

#include "core/toml_reader.hpp"
#include "image/spec.hpp"

namespace shipshape::image {

namespace {

bool valid_package_name(std::string_view s) {
    // Debian policy 5.6.1: lower-case letters, digits, + - . ; at least two, starting with an
    // alphanumeric. An architecture qualifier ":amd64" is allowed after it.
    auto colon = s.find(':');
    std::string_view name = s.substr(0, colon);
    if (name.size() < 2 ||
        !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'))) {
        return false;
    }
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
              c == '.')) {
            return false;
        }
    }
    if (colon == std::string_view::npos) {
        return true;
    }
    std::string_view arch = s.substr(colon + 1);
    return !arch.empty() && std::all_of(arch.begin(), arch.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

bool valid_version(std::string_view v) {
    // Debian policy 5.6.12: [epoch:]upstream[-revision], starting with a digit after the epoch.
    if (v.empty() || v.size() > 200) {
        return false;
    }
    std::string_view rest = v;
    if (auto colon = v.find(':'); colon != std::string_view::npos) {
        std::string_view epoch = v.substr(0, colon);
        if (epoch.empty() ||
            !std::all_of(epoch.begin(), epoch.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return false;
        }
        rest = v.substr(colon + 1);
    }
    if (rest.empty() || !(rest[0] >= '0' && rest[0] <= '9')) {
        return false;
    }
    return std::all_of(rest.begin(), rest.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '+' || c == '-' || c == '~' || c == ':';
    });
}

bool valid_word(std::string_view s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    });
}

void read_image_table(TomlReader& r, const toml::table& t, Spec& out) {
    r.check_keys(
        t, "[image]",
        {"name", "distribution", "release", "architecture", "variant", "lab", "sources", "roles"});
    auto text = [&](const char* key, std::string& into, bool required) {
        const toml::node* n = t.get(key);
        if (!n) {
            if (required) {
                r.error(SourcePos{1, 1}, std::string("[image] needs ") + key);
            }
            return;
        }
        if (auto v = r.string(*n, std::string("[image] ") + key)) {
            if (!valid_word(*v)) {
                r.error(*n, std::string("[image] ") + key + " '" + *v +
                                "': expected 1-64 of a-z 0-9 - _ .");
                return;
            }
            into = *v;
        }
    };
    text("name", out.name, true);
    text("distribution", out.distribution, false);
    text("release", out.release, true);
    text("architecture", out.architecture, true);
    text("variant", out.variant, false);
    if (const toml::node* n = t.get("name");
        n && !out.name.empty() && !valid_image_name(out.name)) {
        r.error(*n, "[image] name '" + out.name + "': must start with a letter or digit");
    }
    static const std::set<std::string> k_variants = {"essential", "minbase",  "required",
                                                     "important", "standard", "buildd"};
    if (const toml::node* n = t.get("variant"); n && !k_variants.count(out.variant)) {
        r.error(*n, "[image] variant '" + out.variant +
                        "': expected essential, minbase, required, important, standard or buildd");
    }
    if (out.distribution != "debian") {
        if (const toml::node* n = t.get("distribution")) {
            r.error(*n, "[image] distribution '" + out.distribution +
                            "': only debian is supported (mmdebstrap builds Debian roots)");
        }
    }
    if (const toml::node* n = t.get("lab")) {
        if (auto v = r.boolean(*n, "[image] lab")) {
            out.lab = *v;
        }
    }
    if (const toml::node* n = t.get("sources")) {
        if (auto v = r.strings(*n, "[image] sources")) {
            for (const auto& line : *v) {
                if (line.rfind("deb ", 0) != 0 || line.find('\n') != std::string::npos) {
                    r.error(*n, "[image] sources: '" + line +
                                    "' is not one apt source line (\"deb [options] URI SUITE "
                                    "[COMPONENT...]\")");
                }
            }
            out.sources = *v;
        }
    }
    if (const toml::node* n = t.get("roles")) {
        if (auto v = r.strings(*n, "[image] roles")) {
            for (const auto& role : *v) {
                if (!valid_word(role)) {
                    r.error(*n, "[image] roles: '" + role + "' is not a role name");
                }
            }
            out.roles = *v;
        }
    }
}

void read_packages(TomlReader& r, const toml::table& t, Spec& out) {
    for (auto&& [key, value] : t) {
        std::string name(key.str());
        if (!valid_package_name(name)) {
            r.error(toml_pos(key.source()),
                    "[packages] '" + name +
                        "' is not a Debian package name (lower-case letters, digits, + - .)");
            continue;
        }
        auto version = r.string(value, "[packages] " + name);
        if (!version) {
            continue;
        }
        if (!valid_version(*version)) {
            r.error(value, "[packages] " + name + " = '" + *version +
                               "': not a Debian version ([epoch:]upstream[-revision])");
            continue;
        }
        PackagePin pin;
        auto colon = name.find(':');
        pin.name = name.substr(0, colon);
        if (colon != std::string::npos) {
            pin.architecture = name.substr(colon + 1);
        }
        pin.version = *version;
        out.packages.push_back(std::move(pin));
    }
    std::sort(out.packages.begin(), out.packages.end(), [](const auto& a, const auto& b) {
        return std::tie(a.name, a.architecture) < std::tie(b.name, b.architecture);
    });
}

void read_users(TomlReader& r, const toml::array& users, Spec& out) {
    std::set<std::string> seen;
    for (const auto& node : users) {
        const toml::table* t = r.table(node, "[[user]]");
        if (!t) {
            continue;
        }
        r.check_keys(*t, "[[user]]", {"name", "uid", "gid", "home", "shell"});
        User u;
        if (const toml::node* n = t->get("name")) {
            if (auto v = r.string(*n, "[[user]] name")) {
                u.name = *v;
                if (!valid_word(u.name)) {
                    r.error(*n, "[[user]] name '" + u.name + "': expected 1-64 of a-z 0-9 - _ .");
                } else if (!seen.insert(u.name).second) {
                    r.error(*n, "[[user]] '" + u.name + "' is given twice");
                }
            }
        } else {
            r.error(node, "[[user]] needs a name");
        }
        auto id = [&](const char* key, std::optional<uint32_t>& into) {
            if (const toml::node* n = t->get(key)) {
                if (auto v = r.integer(*n, std::string("[[user]] ") + key, 0, 4294967294LL)) {
                    into = static_cast<uint32_t>(*v);
                }
            }
        };
        id("uid", u.uid);
        id("gid", u.gid);
        auto path = [&](const char* key, std::string& into) {
            if (const toml::node* n = t->get(key)) {
                if (auto v = r.string(*n, std::string("[[user]] ") + key)) {
                    if (v->empty() || (*v)[0] != '/' || v->find(':') != std::string::npos) {
                        r.error(*n, std::string("[[user]] ") + key + " '" + *v +
                                        "': expected an absolute path without ':'");
                    }
                    into = *v;
                }
            }
        };
        path("home", u.home);
        path("shell", u.shell);
        out.users.push_back(std::move(u));
    }
}

void read_limits(TomlReader& r, const toml::table& t, Spec& out) {
    r.check_keys(t, "[limits]", {"memory", "cpus", "open_files"});
    if (const toml::node* n = t.get("memory")) {
        if (auto v = r.size(*n, "[limits] memory")) {
            out.limits.memory_bytes = *v;
        }
    }
    if (const toml::node* n = t.get("cpus")) {
        std::optional<double> cpus;
        if (auto i = n->value<int64_t>(); i && n->is_integer()) {
            cpus = static_cast<double>(*i);
        } else if (auto d = n->value<double>(); d && n->is_floating_point()) {
            cpus = *d;
        }
        if (!cpus || *cpus <= 0 || *cpus > 4096) {
            r.error(*n, "[limits] cpus: expected a number of CPUs above 0, e.g. 2 or 0.5");
        } else {
            out.limits.cpus = cpus;
        }
    }
    if (const toml::node* n = t.get("open_files")) {
        if (auto v = r.integer(*n, "[limits] open_files", 16, 1LL << 30)) {
            out.limits.open_files = static_cast<uint64_t>(*v);
        }
    }
}

void read_snapshot(TomlReader& r, const toml::table& t, Spec& out) {
    r.check_keys(t, "[snapshot]", {"hosts", "taken"});
    if (const toml::node* n = t.get("hosts")) {
        if (auto v = r.strings(*n, "[snapshot] hosts")) {
            out.hosts = *v;
        }
    }
    if (const toml::node* n = t.get("taken")) {
        if (auto v = r.string(*n, "[snapshot] taken")) {
            out.taken = *v;
        }
    }
}

}  // namespace

Result<Spec> parse_spec(std::string_view text, std::string_view path) {
    Diagnostics diags;
    TomlReader r(std::string(path), diags);
    auto doc = r.parse(text);
    Spec out;
    if (doc) {
        r.check_keys(*doc, "the image spec", {"image", "packages", "user", "limits", "snapshot"});
        if (const toml::node* n = doc->get("image")) {
            if (const toml::table* t = r.table(*n, "[image]")) {
                read_image_table(r, *t, out);
            }
        } else {
            r.error(SourcePos{1, 1},
                    "an image spec needs an [image] table with name, release and architecture");
        }
        if (const toml::node* n = doc->get("packages")) {
            if (const toml::table* t = r.table(*n, "[packages]")) {
                read_packages(r, *t, out);
            }
        }
        if (const toml::node* n = doc->get("user")) {
            if (const toml::array* a = r.tables(*n, "[[user]]")) {
                read_users(r, *a, out);
            }
        }
        if (const toml::node* n = doc->get("limits")) {
            if (const toml::table* t = r.table(*n, "[limits]")) {
                read_limits(r, *t, out);
            }
        }
        if (const toml::node* n = doc->get("snapshot")) {
            if (const toml::table* t = r.table(*n, "[snapshot]")) {
                read_snapshot(r, *t, out);
            }
        }
    }
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    return out;
}

}  // namespace shipshape::image
