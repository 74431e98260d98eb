#include "package/diff.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "core/size.hpp"
#include "core/text.hpp"
#include "state/udiff.hpp"

namespace shipshape::package {

namespace {

// The package name a single relation is about: "libssl3 (>= 3.0)" -> "libssl3",
// "python3:any" -> "python3", "foo [amd64]" -> "foo".
std::string_view relation_package(std::string_view relation) {
    relation = trim(relation);
    size_t end = 0;
    while (end < relation.size() && relation[end] != ' ' && relation[end] != '(' &&
           relation[end] != '[' && relation[end] != '<' && relation[end] != ':') {
        ++end;
    }
    return relation.substr(0, end);
}

// The key a relation is matched by: its package names, alternatives joined by " | ".
std::string relation_key(std::string_view relation) {
    std::string key;
    size_t start = 0;
    while (start <= relation.size()) {
        size_t bar = relation.find('|', start);
        std::string_view part = relation.substr(
            start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
        if (!key.empty()) {
            key += " | ";
        }
        key += relation_package(part);
        if (bar == std::string_view::npos) {
            break;
        }
        start = bar + 1;
    }
    return key;
}

// Relations of one field keyed by name; a name listed twice keeps both, "#2" on the second.
std::map<std::string, std::string> keyed_relations(const std::vector<std::string>& relations) {
    std::map<std::string, std::string> out;
    for (const auto& r : relations) {
        std::string key = relation_key(r);
        std::string unique = key;
        for (int n = 2; out.count(unique) != 0; ++n) {
            unique = key + "#" + std::to_string(n);
        }
        out.emplace(std::move(unique), r);
    }
    return out;
}

// Calls on_a(key, a), on_b(key, b) or on_both(key, a, b) for every key of two sorted maps.
template <typename Map, typename OnA, typename OnB, typename OnBoth>
void merge_keys(const Map& a, const Map& b, OnA on_a, OnB on_b, OnBoth on_both) {
    auto ia = a.begin();
    auto ib = b.begin();
    while (ia != a.end() || ib != b.end()) {
        if (ib == b.end() || (ia != a.end() && ia->first < ib->first)) {
            on_a(ia->first, ia->second);
            ++ia;
        } else if (ia == a.end() || ib->first < ia->first) {
            on_b(ib->first, ib->second);
            ++ib;
        } else {
            on_both(ia->first, ia->second, ib->second);
            ++ia;
            ++ib;
        }
    }
}

std::vector<RelationChange> diff_relations(const Manifest& a, const Manifest& b) {
    std::vector<RelationChange> out;
    static const std::vector<std::string> k_none;
    auto field_of = [](const Manifest& m, std::string_view field) -> const auto& {
        auto it = m.relations.find(std::string(field));
        return it == m.relations.end() ? k_none : it->second;
    };
    for (std::string_view field : k_relation_fields) {
        auto ka = keyed_relations(field_of(a, field));
        auto kb = keyed_relations(field_of(b, field));
        auto name = [](const std::string& key) { return key.substr(0, key.find('#')); };
        merge_keys(
            ka, kb,
            [&](const std::string& k, const std::string& v) {
                out.push_back({std::string(field), name(k), Change::removed, v, ""});
            },
            [&](const std::string& k, const std::string& v) {
                out.push_back({std::string(field), name(k), Change::added, "", v});
            },
            [&](const std::string& k, const std::string& va, const std::string& vb) {
                if (va != vb) {
                    out.push_back({std::string(field), name(k), Change::changed, va, vb});
                }
            });
    }
    return out;
}

// The needs of a requirements file as (kind order, subject) -> "≥ 2 GiB".
using NeedKey = std::pair<int, std::pair<std::string, std::string>>;  // order, (kind, subject)

std::map<NeedKey, std::string> needs_of(const require::Requirements& r) {
    std::map<NeedKey, std::string> out;
    auto put = [&](int order, std::string kind, std::string subject, std::string text) {
        NeedKey key{order, {std::move(kind), std::move(subject)}};
        auto [it, fresh] = out.emplace(key, text);
        if (!fresh) {
            it->second += ", " + text;  // the same need twice: keep both
        }
    };
    if (r.memory) {
        put(0, "memory", "available", "≥ " + format_size(*r.memory));
    }
    if (r.cpus) {
        put(1, "cpus", "online", "≥ " + std::to_string(*r.cpus));
    }
    for (const auto& d : r.disks) {
        put(2, "disk", d.path, "≥ " + format_size(d.free) + " free");
    }
    for (const auto& p : r.ports) {
        put(3, "port", std::to_string(p.number) + "/" + p.protocol, "free");
    }
    for (const auto& p : r.packages) {
        put(4, "package", p.name,
            p.absent ? "absent" : (p.version ? p.version->text() : std::string("installed")));
    }
    if (r.kernel) {
        put(5, "kernel", "release", r.kernel->text());
    }
    for (const auto& [name, value] : r.limits) {
        put(6, "limit", name, "≥ " + std::to_string(value));
    }
    for (const auto& v : r.env) {
        put(7, "env", v, "set");
    }
    return out;
}

bool is_text(std::string_view s) {
    return s.size() <= k_max_text_diff && s.find('\0') == std::string_view::npos;
}

std::string text_diff(std::string_view before, std::string_view after, const std::string& label,
                      const std::string& version_a, const std::string& version_b) {
    if (!is_text(before) || !is_text(after)) {
        return {};
    }
    return state::unified_diff(before, after, label + " (" + version_a + ")",
                               label + " (" + version_b + ")");
}

RequirementsDiff diff_requirements(const Manifest& a, const Manifest& b) {
    RequirementsDiff out;
    const std::string text_a = a.requirements ? a.requirements->text : "";
    const std::string text_b = b.requirements ? b.requirements->text : "";
    out.text_changed = a.requirements.has_value() != b.requirements.has_value() || text_a != text_b;
    if (!out.text_changed) {
        return out;
    }
    out.text_diff = text_diff(text_a, text_b,
                              b.requirements   ? b.requirements->path
                              : a.requirements ? a.requirements->path
                                               : "requirements.toml",
                              a.version, b.version);
    auto needs = [&](const Manifest& m, const char* side) {
        std::map<NeedKey, std::string> n;
        if (!m.requirements) {
            return n;
        }
        auto parsed = require::parse_requirements(m.requirements->text, m.requirements->path);
        if (!parsed) {
            out.errors.push_back(std::string(side) + ": " + parsed.error().message());
            return n;
        }
        return needs_of(*parsed);
    };
    auto na = needs(a, "a");
    auto nb = needs(b, "b");
    merge_keys(
        na, nb,
        [&](const NeedKey& k, const std::string& v) {
            out.changes.push_back({k.second.first, k.second.second, Change::removed, v, ""});
        },
        [&](const NeedKey& k, const std::string& v) {
            out.changes.push_back({k.second.first, k.second.second, Change::added, "", v});
        },
        [&](const NeedKey& k, const std::string& va, const std::string& vb) {
            if (va != vb) {
                out.changes.push_back({k.second.first, k.second.second, Change::changed, va, vb});
            }
        });
    return out;
}

std::vector<ScriptChange> diff_scripts(const Manifest& a, const Manifest& b) {
    std::vector<ScriptChange> out;
    merge_keys(
        a.scripts, b.scripts,
        [&](const std::string& name, const Script& s) {
            out.push_back({name, Change::removed, s.sha256, "", s.text.size(), 0,
                           text_diff(s.text, "", name, a.version, b.version)});
        },
        [&](const std::string& name, const Script& s) {
            out.push_back({name, Change::added, "", s.sha256, 0, s.text.size(),
                           text_diff("", s.text, name, a.version, b.version)});
        },
        [&](const std::string& name, const Script& sa, const Script& sb) {
            if (sa.sha256 != sb.sha256 || sa.text != sb.text) {
                out.push_back({name, Change::changed, sa.sha256, sb.sha256, sa.text.size(),
                               sb.text.size(),
                               text_diff(sa.text, sb.text, name, a.version, b.version)});
            }
        });
    return out;
}

std::vector<ConffileChange> diff_conffiles(const Manifest& a, const Manifest& b) {
    std::vector<ConffileChange> out;
    std::map<std::string_view, const Conffile*> ca;
    std::map<std::string_view, const Conffile*> cb;
    for (const auto& c : a.conffiles) {
        ca.emplace(c.path, &c);
    }
    for (const auto& c : b.conffiles) {
        cb.emplace(c.path, &c);
    }
    auto content_diff = [&](const Conffile* x, const Conffile* y, const std::string& path) {
        // Added or removed: the side that is absent counts as empty text.
        if ((x && !x->content) || (y && !y->content)) {
            return std::string();
        }
        return text_diff(x ? *x->content : "", y ? *y->content : "", path, a.version, b.version);
    };
    merge_keys(
        ca, cb,
        [&](std::string_view path, const Conffile* c) {
            ConffileChange ch{std::string(path),
                              Change::removed,
                              c->sha256,
                              "",
                              c->size,
                              0,
                              content_diff(c, nullptr, std::string(path)),
                              c->modified_locally,
                              false};
            out.push_back(std::move(ch));
        },
        [&](std::string_view path, const Conffile* c) {
            ConffileChange ch{std::string(path),
                              Change::added,
                              "",
                              c->sha256,
                              0,
                              c->size,
                              content_diff(nullptr, c, std::string(path)),
                              false,
                              c->modified_locally};
            out.push_back(std::move(ch));
        },
        [&](std::string_view path, const Conffile* x, const Conffile* y) {
            if (x->sha256 == y->sha256 && x->content == y->content) {
                return;
            }
            ConffileChange ch{std::string(path),
                              Change::changed,
                              x->sha256,
                              y->sha256,
                              x->size,
                              y->size,
                              content_diff(x, y, std::string(path)),
                              x->modified_locally,
                              y->modified_locally};
            out.push_back(std::move(ch));
        });
    return out;
}

bool is_link(EntryType t) {
    return t == EntryType::symlink || t == EntryType::hardlink;
}

uint32_t aspects(const Entry& x, const Entry& y) {
    uint32_t what = 0;
    if (x.type != y.type) {
        what |= k_aspect_type;
    } else if (x.type == EntryType::file && (x.sha256 != y.sha256 || x.size != y.size)) {
        what |= k_aspect_content;
    }
    if (x.mode != y.mode) {
        what |= k_aspect_mode;
    }
    if (x.owner != y.owner || x.group != y.group) {
        what |= k_aspect_owner;
    }
    if (x.type == y.type && is_link(x.type) && x.target != y.target) {
        what |= k_aspect_target;
    }
    return what;
}

FilesDiff diff_files(const Manifest& a, const Manifest& b) {
    // Both lists are sorted by path (the manifest invariant): one merge pass.
    FilesDiff out;
    auto ia = a.files.begin();
    auto ib = b.files.begin();
    while (ia != a.files.end() || ib != b.files.end()) {
        if (ib == b.files.end() || (ia != a.files.end() && ia->path < ib->path)) {
            out.removed.push_back(*ia++);
        } else if (ia == a.files.end() || ib->path < ia->path) {
            out.added.push_back(*ib++);
        } else {
            if (uint32_t what = aspects(*ia, *ib); what != 0) {
                out.changed.push_back({*ia, *ib, what});
            }
            ++ia;
            ++ib;
        }
    }
    return out;
}

// Fields with a section of their own are left out of the control comparison.
bool has_own_section(std::string_view name) {
    for (std::string_view f : k_relation_fields) {
        if (f == name) {
            return true;
        }
    }
    return name == "Package" || name == "Version" || name == "Architecture" ||
           name == "Installed-Size";
}

std::vector<FieldChange> diff_control(const Manifest& a, const Manifest& b) {
    std::map<std::string, std::string> fa;
    std::map<std::string, std::string> fb;
    for (const auto& f : a.control) {
        if (!has_own_section(f.name)) {
            fa[f.name] = f.value;
        }
    }
    for (const auto& f : b.control) {
        if (!has_own_section(f.name)) {
            fb[f.name] = f.value;
        }
    }
    std::vector<FieldChange> out;
    merge_keys(
        fa, fb,
        [&](const std::string& k, const std::string& v) {
            out.push_back({k, Change::removed, v, ""});
        },
        [&](const std::string& k, const std::string& v) {
            out.push_back({k, Change::added, "", v});
        },
        [&](const std::string& k, const std::string& va, const std::string& vb) {
            if (va != vb) {
                out.push_back({k, Change::changed, va, vb});
            }
        });
    return out;
}

SideInfo side_info(const Manifest& m) {
    SideInfo s;
    s.package = m.package;
    s.version = m.version;
    s.architecture = m.architecture;
    s.payload_size = payload_size(m);
    s.entries = m.files.size();
    s.unsafe = m.unsafe.size();
    std::string kib(trim(m.field("Installed-Size")));
    if (!kib.empty() && kib.size() <= 18 &&
        std::all_of(kib.begin(), kib.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        s.installed_size_kib = std::stoull(kib);
    }
    return s;
}

bool same_side(const SideInfo& a, const SideInfo& b) {
    return a.package == b.package && a.version == b.version && a.architecture == b.architecture &&
           a.payload_size == b.payload_size && a.installed_size_kib == b.installed_size_kib;
}

}  // namespace

std::string_view change_name(Change change) {
    switch (change) {
        case Change::added:
            return "added";
        case Change::removed:
            return "removed";
        case Change::changed:
            return "changed";
    }
    return "changed";
}

std::vector<std::string_view> aspect_names(uint32_t what) {
    std::vector<std::string_view> out;
    if (what & k_aspect_content) {
        out.emplace_back("content");
    }
    if (what & k_aspect_mode) {
        out.emplace_back("mode");
    }
    if (what & k_aspect_owner) {
        out.emplace_back("owner");
    }
    if (what & k_aspect_type) {
        out.emplace_back("type");
    }
    if (what & k_aspect_target) {
        out.emplace_back("target");
    }
    return out;
}

PackageDiff diff_manifests(const Manifest& a, const Manifest& b) {
    PackageDiff d;
    d.a = side_info(a);
    d.b = side_info(b);
    d.relations = diff_relations(a, b);
    d.requirements = diff_requirements(a, b);
    d.scripts = diff_scripts(a, b);
    d.conffiles = diff_conffiles(a, b);
    d.files = diff_files(a, b);
    d.control = diff_control(a, b);
    return d;
}

bool empty(const PackageDiff& d) {
    return same_side(d.a, d.b) && d.relations.empty() && !d.requirements.text_changed &&
           d.scripts.empty() && d.conffiles.empty() && d.files.added.empty() &&
           d.files.removed.empty() && d.files.changed.empty() && d.control.empty();
}

size_t same_size_content_changes(const FilesDiff& files) {
    return static_cast<size_t>(
        std::count_if(files.changed.begin(), files.changed.end(), [](const FileChange& c) {
            return (c.what & k_aspect_content) != 0 && c.before.size == c.after.size;
        }));
}

}  // namespace shipshape::package
