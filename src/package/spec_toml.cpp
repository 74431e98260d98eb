// The toml++ adapter for package specs (through core/toml_reader.hpp).
#include <climits>
#include <cstdlib>

#include "core/suggest.hpp"
#include "core/template.hpp"
#include "core/text.hpp"
#include "core/toml_reader.hpp"
#include "os/file_system.hpp"
#include "package/manifest.hpp"
#include "package/spec.hpp"
#include "require/requirements.hpp"

namespace shipshape::package {

namespace {

// The relation keys of a spec and their control fields, in k_relation_fields order.
struct RelationKey {
    std::string_view key;
    std::string_view field;
};
constexpr RelationKey k_relation_keys[] = {
    {"pre_depends", "Pre-Depends"}, {"depends", "Depends"},   {"recommends", "Recommends"},
    {"suggests", "Suggests"},       {"enhances", "Enhances"}, {"breaks", "Breaks"},
    {"conflicts", "Conflicts"},     {"replaces", "Replaces"}, {"provides", "Provides"},
};

constexpr std::string_view k_script_names[] = {"preinst", "postinst", "prerm",
                                               "postrm",  "config",   "triggers"};

class SpecReader : public TomlReader {
  public:
    SpecReader(std::string path, Diagnostics& diags, Variables vars, UnsetVariables unset)
        : TomlReader(std::move(path), diags), m_vars(std::move(vars)), m_unset(unset) {}

    // A string with its {{templates}} rendered from --set parameters.
    std::optional<std::string> text(const toml::node& n, std::string_view where) {
        auto s = string(n, where);
        if (!s || s->find("{{") == std::string::npos) {
            return s;
        }
        auto rendered = render_template(*s, m_vars);
        if (!rendered && m_unset == UnsetVariables::unchecked) {
            return std::nullopt;  // depends on a value only the build gets
        }
        if (!rendered) {
            error(n, std::string(where) + ": " + rendered.error().message() +
                         " (give it with --set NAME=VALUE)");
            return std::nullopt;
        }
        return *rendered;
    }

    // A one-line control value that obeys `rule` ("" means fine).
    std::string field(const toml::table& t, std::string_view key, bool required,
                      std::string (*rule)(std::string_view)) {
        const toml::node* n = t.get(key);
        if (n == nullptr) {
            if (required) {
                error(SourcePos{1, 1}, "the spec needs '" + std::string(key) + "'");
            }
            return {};
        }
        auto v = text(*n, "'" + std::string(key) + "'");
        if (!v) {
            return {};
        }
        std::string why;
        if (auto c = find_control_character(*v, LineBreaks::rejected); !c.empty()) {
            why = "must be one line without control characters: " + c;
        } else if (v->empty() && required) {
            why = "must not be empty";
        } else if (rule != nullptr) {
            why = rule(*v);
        }
        if (!why.empty()) {
            error(*n, "'" + std::string(key) + "' \"" + escape_control(*v) + "\" " + why);
            return {};
        }
        return *v;
    }

    // A file named by the spec (a script, requirements.toml), read relative to `dir`.
    std::optional<std::string> read_named(const toml::node& n, const std::string& dir,
                                          const std::string& where, const std::string& name) {
        std::string why;
        auto real = resolve_source(dir, name, why);
        if (!real) {
            error(n, where + " '" + name + "' " + why);
            return std::nullopt;
        }
        auto content = os::read_whole_file(*real);
        if (!content) {
            error(n, where + " '" + name + "': " + content.error().message());
            return std::nullopt;
        }
        return *content;
    }

  private:
    Variables m_vars;
    UnsetVariables m_unset;
};

void parse_relations(SpecReader& r, const toml::table& doc, PackageSpec& spec) {
    for (const auto& k : k_relation_keys) {
        const toml::node* n = doc.get(k.key);
        if (n == nullptr) {
            continue;
        }
        const auto* arr = n->as_array();
        if (arr == nullptr) {
            r.wrong_type("'" + std::string(k.key) + "'", *n, "an array of strings");
            continue;
        }
        RelationField field{std::string(k.field), {}};
        for (size_t i = 0; i < arr->size(); ++i) {
            const toml::node& item = *arr->get(i);
            auto v = r.text(item, std::string(k.key) + " element " + std::to_string(i + 1));
            if (!v) {
                continue;
            }
            // One element may hold several comma-separated relations (a computed Depends).
            for (auto& rel : split_relations(*v)) {
                std::string why = relation_rule(rel, k.field == "Provides");
                if (!why.empty()) {
                    r.error(item, std::string(k.key) + " relation \"" + escape_control(rel) +
                                      "\" " + why);
                } else {
                    field.relations.push_back(std::move(rel));
                }
            }
        }
        if (!field.relations.empty()) {
            spec.relations.push_back(std::move(field));
        }
    }
}

void parse_files(SpecReader& r, const toml::node& n, PackageSpec& spec) {
    const auto* arr = r.tables(n, "files");
    if (arr == nullptr) {
        return;
    }
    for (auto&& item : *arr) {
        const auto& t = *item.as_table();
        FileMapping m;
        m.pos = toml_pos(t.source());
        r.check_keys(t, "[[files]]", {"source", "destination", "mode", "owner", "group"});
        if (const auto* s = t.get("source")) {
            m.source = r.text(*s, "[[files]] 'source'").value_or("");
            std::string why;
            if (!m.source.empty() &&
                (m.source.front() == '/' || !normalise_destination(m.source, why))) {
                r.error(*s, "[[files]] 'source' \"" + m.source +
                                "\" escapes the spec's directory (write a path relative to it)");
            }
        } else {
            r.error(m.pos, "[[files]] needs a 'source'");
        }
        if (const auto* d = t.get("destination")) {
            if (auto dest = r.text(*d, "[[files]] 'destination'")) {
                std::string why;
                auto norm = normalise_destination(*dest, why);
                if (!norm) {
                    r.error(*d, "[[files]] 'destination' \"" + escape_control(*dest) + "\" " + why);
                } else {
                    m.destination = *norm;
                    m.into = dest->empty() || dest->back() == '/' || *dest == ".";
                }
            }
        } else {
            r.error(m.pos, "[[files]] needs a 'destination' (relative to the package root)");
        }
        if (const auto* mode = t.get("mode")) {
            auto s = r.text(*mode, "[[files]] 'mode'");
            char* end = nullptr;
            long v = s && !s->empty() ? std::strtol(s->c_str(), &end, 8) : -1;
            if (s && (v < 0 || v > 07777 || *end != '\0')) {
                r.error(*mode,
                        "[[files]] 'mode' must be an octal mode from \"0000\" to "
                        "\"7777\", found \"" +
                            *s + "\"");
            } else if (s) {
                m.mode = static_cast<uint32_t>(v);
            }
        }
        for (auto [key, out] : {std::pair{"owner", &m.owner}, std::pair{"group", &m.group}}) {
            if (const auto* o = t.get(key)) {
                auto v = r.text(*o, std::string("[[files]] '") + key + "'");
                if (v && (v->empty() || v->size() > 32 ||
                          v->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") !=
                              std::string::npos)) {
                    r.error(*o, std::string("[[files]] '") + key + "' \"" + escape_control(*v) +
                                    "\" must be a user or group name (a-z, 0-9, '_', '-')");
                } else if (v) {
                    *out = *v;
                }
            }
        }
        spec.files.push_back(std::move(m));
    }
}

void parse_links(SpecReader& r, const toml::node& n, PackageSpec& spec) {
    const auto* arr = r.tables(n, "links");
    if (arr == nullptr) {
        return;
    }
    for (auto&& item : *arr) {
        const auto& t = *item.as_table();
        LinkMapping l;
        l.pos = toml_pos(t.source());
        r.check_keys(t, "[[links]]", {"path", "target"});
        if (const auto* p = t.get("path")) {
            if (auto v = r.text(*p, "[[links]] 'path'")) {
                std::string why;
                auto norm = normalise_destination(*v, why);
                if (!norm || norm->empty()) {
                    r.error(*p, "[[links]] 'path' \"" + escape_control(*v) + "\" " +
                                    (norm ? "must name a path below the root" : why));
                } else {
                    l.path = *norm;
                }
            }
        } else {
            r.error(l.pos, "[[links]] needs a 'path'");
        }
        if (const auto* tg = t.get("target")) {
            l.target = r.text(*tg, "[[links]] 'target'").value_or("");
            if (l.target.empty()) {
                r.error(*tg, "[[links]] 'target' must not be empty");
            }
        } else {
            r.error(l.pos, "[[links]] needs a 'target'");
        }
        spec.links.push_back(std::move(l));
    }
}

void parse_scripts(SpecReader& r, const toml::node& n, const std::string& dir, PackageSpec& spec) {
    const auto* t = r.table(n, "[scripts]");
    if (t == nullptr) {
        return;
    }
    for (auto&& [key, value] : *t) {
        std::string name(key.str());
        bool known = false;
        std::vector<std::string_view> names;
        for (auto k : k_script_names) {
            known = known || name == k;
            names.push_back(k);
        }
        if (!known) {
            r.error(toml_pos(key.source()),
                    "unknown maintainer script '" + name + "' in [scripts]" +
                        (did_you_mean(name, names).empty()
                             ? " (expected one of: preinst, postinst, prerm, postrm, config, "
                               "triggers)"
                             : did_you_mean(name, names)));
            continue;
        }
        std::optional<std::string> body;
        if (value.is_string()) {
            body = r.text(value, "script '" + name + "'");
        } else if (const auto* ft = value.as_table()) {
            r.check_keys(*ft, "script '" + name + "'", {"file"});
            if (const auto* f = ft->get("file")) {
                if (auto file = r.text(*f, "script '" + name + "' 'file'")) {
                    body = r.read_named(*f, dir, "script '" + name + "' file", *file);
                }
            } else {
                r.error(value, "script '" + name + "' needs 'file' (or give the text inline)");
            }
        } else {
            r.wrong_type("script '" + name + "'", value,
                         "a string (the script) or a table { file = \"...\" }");
        }
        if (body && body->empty()) {
            r.error(value, "script '" + name + "' is empty");
        } else if (body && name != "triggers" && body->rfind("#!", 0) != 0) {
            r.error(value, "script '" + name + "' must start with a \"#!\" line, e.g. #!/bin/sh");
        } else if (body) {
            spec.scripts[name] = std::move(*body);
        }
    }
}

void parse_conffiles(SpecReader& r, const toml::node& n, PackageSpec& spec) {
    const auto* arr = n.as_array();
    if (arr == nullptr) {
        r.wrong_type("'conffiles'", n, "an array of strings");
        return;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node& item = *arr->get(i);
        auto v = r.text(item, "conffiles element " + std::to_string(i + 1));
        if (!v) {
            continue;
        }
        std::string why;
        auto norm = v->empty() || v->front() != '/' ? std::nullopt
                                                    : normalise_destination(v->substr(1), why);
        if (!norm || norm->rfind("etc/", 0) != 0) {
            r.error(item, "conffile \"" + escape_control(*v) +
                              "\" must be an absolute path under /etc, e.g. "
                              "\"/etc/booking/booking.conf\"");
            continue;
        }
        spec.conffiles.emplace_back("/" + *norm, toml_pos(item.source()));
    }
}

}  // namespace

PackageSpec parse_package_spec(std::string_view text, const std::string& path,
                               const std::string& dir,
                               const std::vector<std::pair<std::string, std::string>>& params,
                               Diagnostics& diags, UnsetVariables unset) {
    Variables vars;
    for (const auto& [k, v] : params) {
        vars[k] = v;
    }
    SpecReader r(path, diags, std::move(vars), unset);
    PackageSpec spec;
    spec.path = path;
    spec.dir = dir;
    auto doc = r.parse(text);
    if (!doc) {
        return spec;
    }
    r.check_keys(
        *doc, "the spec",
        {"name",     "version",  "architecture", "maintainer",  "description", "long_description",
         "section",  "priority", "homepage",     "pre_depends", "depends",     "recommends",
         "suggests", "enhances", "breaks",       "conflicts",   "replaces",    "provides",
         "files",    "links",    "conffiles",    "scripts",     "requirements"});
    spec.name = r.field(*doc, "name", true, &package_name_rule);
    spec.version = r.field(*doc, "version", true, &version_rule);
    spec.architecture = r.field(*doc, "architecture", true, &architecture_rule);
    spec.maintainer = r.field(*doc, "maintainer", true, nullptr);
    spec.description = r.field(*doc, "description", true, nullptr);
    spec.section = r.field(*doc, "section", false, nullptr);
    spec.priority = r.field(*doc, "priority", false, nullptr);
    spec.homepage = r.field(*doc, "homepage", false, nullptr);
    if (!spec.maintainer.empty() &&
        (spec.maintainer.find('<') == std::string::npos || spec.maintainer.back() != '>')) {
        r.error(*doc->get("maintainer"),
                "'maintainer' must be \"Name <email>\", found \"" + spec.maintainer + "\"");
    }
    if (const auto* n = doc->get("long_description")) {
        auto v = r.text(*n, "'long_description'");
        if (auto c = v ? find_control_character(*v, LineBreaks::allowed) : ""; !c.empty()) {
            r.error(*n, "'long_description' has a control character: " + c);
        } else if (v) {
            spec.long_description = std::string(trim(*v));
        }
    }
    parse_relations(r, *doc, spec);
    if (const auto* n = doc->get("files")) {
        parse_files(r, *n, spec);
    }
    if (const auto* n = doc->get("links")) {
        parse_links(r, *n, spec);
    }
    if (const auto* n = doc->get("conffiles")) {
        parse_conffiles(r, *n, spec);
    }
    if (const auto* n = doc->get("scripts")) {
        parse_scripts(r, *n, dir, spec);
    }
    if (const auto* n = doc->get("requirements")) {
        if (auto name = r.text(*n, "'requirements'")) {
            if (auto content = r.read_named(*n, dir, "requirements", *name)) {
                auto req = require::parse_requirements(*content, *name);
                if (!req) {
                    r.error(*n,
                            "requirements '" + *name + "' is not valid:\n" + req.error().message());
                } else {
                    spec.requirements_path = *name;
                    spec.requirements_text = std::move(*content);
                }
            }
        }
    }
    return spec;
}

Result<PackageSpec> load_package_spec(
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& params,
    UnsetVariables unset) {
    auto text = os::read_whole_file(path);
    if (!text) {
        return fail(text.error().code(), "reading package spec: " + text.error().message());
    }
    size_t slash = path.rfind('/');
    std::string parent = slash == std::string::npos ? "."
                         : slash == 0               ? "/"
                                                    : path.substr(0, slash);
    char* real = ::realpath(parent.c_str(), nullptr);
    if (real == nullptr) {
        return fail(Errc::not_found, "resolving the directory of '" + path + "'");
    }
    std::string dir(real);
    std::free(real);
    Diagnostics diags;
    auto spec = parse_package_spec(*text, path, dir, params, diags, unset);
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    return spec;
}

}  // namespace shipshape::package
