// The toml++ adapter for requirements.toml.
#include "core/toml_reader.hpp"
#include "require/requirements.hpp"

namespace shipshape::require {

namespace {

// The rlimits a [limits] table may name (soft limits, as RLIMIT_* without the prefix).
constexpr std::string_view k_limit_names[] = {"nofile", "nproc", "core", "memlock",
                                              "stack",  "fsize", "as",   "cpu"};

}  // namespace

Result<Requirements> parse_requirements(std::string_view text, std::string_view path) {
    Diagnostics diags;
    TomlReader r(std::string(path), diags);
    auto doc = r.parse(text);
    if (!doc) {
        return fail(diags.to_error());
    }
    Requirements req;
    req.path = std::string(path);
    r.check_keys(*doc, "requirements.toml",
                 {"resources", "disk", "port", "package", "kernel", "limits", "env"});
    if (auto n = doc->get("resources")) {
        if (auto t = r.table(*n, "[resources]")) {
            r.check_keys(*t, "[resources]", {"memory", "cpus"});
            if (auto m = t->get("memory")) {
                req.memory = r.size(*m, "resources 'memory'");
            }
            if (auto c = t->get("cpus")) {
                if (auto v = r.integer(*c, "resources 'cpus'", 1, 4096)) {
                    req.cpus = static_cast<int>(*v);
                }
            }
        }
    }
    if (auto n = doc->get("disk")) {
        if (auto arr = r.tables(*n, "disk")) {
            for (auto&& item : *arr) {
                const auto& t = *item.as_table();
                DiskNeed d;
                d.pos = toml_pos(t.source());
                r.check_keys(t, "[[disk]]", {"path", "free"});
                if (auto p = t.get("path")) {
                    d.path = r.string(*p, "disk 'path'").value_or("");
                }
                if (auto f = t.get("free")) {
                    d.free = r.size(*f, "disk 'free'").value_or(0);
                }
                if (d.path.empty() || d.path.front() != '/') {
                    r.error(d.pos, "[[disk]] needs an absolute 'path'");
                } else if (!t.get("free")) {
                    r.error(d.pos,
                            "[[disk]] '" + d.path + "' needs 'free', e.g. free = \"10 GiB\"");
                }
                req.disks.push_back(std::move(d));
            }
        }
    }
    if (auto n = doc->get("port")) {
        if (auto arr = r.tables(*n, "port")) {
            for (auto&& item : *arr) {
                const auto& t = *item.as_table();
                PortNeed p;
                p.pos = toml_pos(t.source());
                r.check_keys(t, "[[port]]", {"number", "protocol"});
                if (auto v = t.get("number")) {
                    p.number =
                        static_cast<int>(r.integer(*v, "port 'number'", 1, 65535).value_or(0));
                } else {
                    r.error(p.pos, "[[port]] needs a 'number'");
                }
                if (auto v = t.get("protocol")) {
                    p.protocol = r.string(*v, "port 'protocol'").value_or("tcp");
                    if (p.protocol != "tcp" && p.protocol != "udp") {
                        r.error(*v, "port 'protocol' must be \"tcp\" or \"udp\", found \"" +
                                        p.protocol + "\"");
                    }
                }
                req.ports.push_back(std::move(p));
            }
        }
    }
    if (auto n = doc->get("package")) {
        if (auto arr = r.tables(*n, "package")) {
            for (auto&& item : *arr) {
                const auto& t = *item.as_table();
                PackageNeed p;
                p.pos = toml_pos(t.source());
                r.check_keys(t, "[[package]]", {"name", "version", "absent"});
                if (auto v = t.get("name")) {
                    p.name = r.string(*v, "package 'name'").value_or("");
                }
                if (p.name.empty()) {
                    r.error(p.pos, "[[package]] needs a 'name'");
                }
                if (auto v = t.get("absent")) {
                    p.absent = r.boolean(*v, "package 'absent'").value_or(false);
                }
                if (auto v = t.get("version")) {
                    if (auto s = r.string(*v, "package 'version'")) {
                        auto c = parse_constraint(*s);
                        if (c) {
                            p.version = *c;
                        } else {
                            r.error(*v, "package '" + p.name + "': " + c.error().message());
                        }
                    }
                    if (p.absent) {
                        r.error(*v, "package '" + p.name +
                                        "' is absent: it cannot also have a 'version'");
                    }
                }
                req.packages.push_back(std::move(p));
            }
        }
    }
    if (auto n = doc->get("kernel")) {
        if (auto t = r.table(*n, "[kernel]")) {
            r.check_keys(*t, "[kernel]", {"version"});
            if (auto v = t->get("version")) {
                if (auto s = r.string(*v, "kernel 'version'")) {
                    auto c = parse_constraint(*s);
                    if (c) {
                        req.kernel = *c;
                    } else {
                        r.error(*v, "kernel: " + c.error().message());
                    }
                }
            }
        }
    }
    if (auto n = doc->get("limits")) {
        if (auto t = r.table(*n, "[limits]")) {
            for (auto&& [key, value] : *t) {
                std::string name(key.str());
                bool known = false;
                for (auto k : k_limit_names) {
                    known = known || name == k;
                }
                if (!known) {
                    r.error(toml_pos(key.source()),
                            "unknown limit '" + name +
                                "' in [limits] (expected one of: nofile, nproc, core, memlock, "
                                "stack, fsize, as, cpu)");
                    continue;
                }
                if (auto v = r.integer(value, "limits '" + name + "'", 0, INT64_MAX)) {
                    req.limits.emplace_back(name, static_cast<uint64_t>(*v));
                }
            }
        }
    }
    if (auto n = doc->get("env")) {
        if (auto t = r.table(*n, "[env]")) {
            r.check_keys(*t, "[env]", {"required"});
            if (auto v = t->get("required")) {
                req.env = r.strings(*v, "env 'required'").value_or(std::vector<std::string>{});
            }
        }
    }
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    return req;
}

}  // namespace shipshape::require
