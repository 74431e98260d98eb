// The toml++ adapter for state files (through core/toml_reader.hpp), plus loading of sources
// and templates. Cross-resource validation lives in validate.cpp.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "core/toml_reader.hpp"
#include "os/beneath.hpp"
#include "os/file_system.hpp"
#include "state/load.hpp"
#include "state/sources.hpp"

namespace shipshape::state {

namespace {

constexpr Kind k_kinds[] = {Kind::file,   Kind::directory, Kind::tree,   Kind::symlink,
                            Kind::absent, Kind::package,   Kind::user,   Kind::group,
                            Kind::line,   Kind::service,   Kind::command};

using Rule = std::string (*)(std::string_view);

// A [[package]] deb as rendered: a .deb path inside the ops repo.
std::string deb_rule(std::string_view value) {
    if (value.find('\0') != std::string_view::npos) {
        return "must not contain a NUL byte, found " + quote_value(value);
    }
    if (value.empty() || value.front() == '/' || value == ".." || value.rfind("../", 0) == 0 ||
        value.find("/../") != std::string_view::npos ||
        (value.size() >= 3 && value.compare(value.size() - 3, 3, "/..") == 0)) {
        return "must be a path inside the ops repo, found " + quote_value(value);
    }
    if (value.size() < 5 || value.compare(value.size() - 4, 4, ".deb") != 0) {
        return "must name a .deb file, found " + quote_value(value);
    }
    return {};
}

bool is_templated(std::string_view value) {
    return value.find("{{") != std::string_view::npos;
}

class Reader : public TomlReader {
  public:
    using TomlReader::TomlReader;

    // A string that obeys `rule` (model.hpp). A value with {{templates}} is checked for NUL
    // only here (the template is not the value yet); load_state checks the rendered value with
    // the same rule. Paths and lines are checked in full: no parameter can make a relative path
    // absolute or join two lines.
    std::optional<std::string> checked(const toml::node& n, std::string_view where, Rule rule) {
        auto s = string(n, where);
        if (!s) {
            return std::nullopt;
        }
        bool full = rule == &path_rule || rule == &line_rule || !is_templated(*s);
        std::string why = full ? rule(*s) : argv_word_rule(*s);
        if (!why.empty()) {
            error(n, std::string(where) + " " + why);
            return std::nullopt;
        }
        return template_ok(n, where, *s) ? s : std::nullopt;
    }

    // Whether the {{...}} in `s` parse (names, filters), so that validate, which does not
    // render, reports an unknown filter at its key.
    bool template_ok(const toml::node& n, std::string_view where, const std::string& s) {
        if (!is_templated(s)) {
            return true;
        }
        auto refs = template_refs(s);
        if (!refs) {
            error(n, std::string(where) + ": " + refs.error().message());
        }
        return refs.has_value();
    }

    // An absolute, normalized path: no ".", "..", "//" or trailing "/", no control characters.
    std::optional<std::string> abs_path(const toml::node& n, std::string_view where) {
        return checked(n, where, &path_rule);
    }

    void check_source(const toml::node& n, const std::string& where, const std::string& source,
                      const std::string& key = "source") {
        if (source.find('\0') != std::string::npos) {
            error(n, where + " '" + key + "' must not contain a NUL byte, found " +
                         quote_value(source));
        } else if (!source.empty() &&
                   (source.front() == '/' || source == ".." || source.rfind("../", 0) == 0 ||
                    source.find("/../") != std::string::npos ||
                    (source.size() >= 3 && source.compare(source.size() - 3, 3, "/..") == 0))) {
            error(n, where + " '" + key + "' must be a path inside the ops repo, found \"" +
                         source + "\"");
        }
    }

    std::optional<unsigned> mode(const toml::node& n, std::string_view where) {
        auto s = n.as_string();
        if (!s) {
            wrong_type(where, n, "an octal string like \"0640\"");
            return std::nullopt;
        }
        auto m = parse_mode(s->get());
        if (!m) {
            error(n, std::string(where) +
                         " must be an octal mode from \"0000\" to \"7777\", "
                         "found \"" +
                         s->get() + "\"");
        }
        return m;
    }

    // An array of strings, each obeying `rule` (argv_word_rule for commands, path_rule for
    // when_changed); `allow_empty` for lists that may be empty.
    std::optional<std::vector<std::string>> words(const toml::node& n, std::string_view where,
                                                  Rule rule, bool allow_empty) {
        auto a = strings(n, where);
        if (a && a->empty() && !allow_empty) {
            error(n, std::string(where) + " must not be empty");
            return std::nullopt;
        }
        if (!a) {
            return a;
        }
        bool ok = true;
        const auto* arr = n.as_array();
        for (size_t i = 0; i < a->size(); ++i) {
            const std::string& w = (*a)[i];
            bool full = rule == &path_rule || !is_templated(w);
            std::string why = full ? rule(w) : argv_word_rule(w);
            const toml::node* item = arr ? arr->get(i) : nullptr;
            std::string element = std::string(where) + " element " + std::to_string(i + 1);
            if (!why.empty()) {
                error(item ? *item : n, element + " " + why);
                ok = false;
            } else if (!template_ok(item ? *item : n, element, w)) {
                ok = false;
            }
        }
        return ok ? a : std::nullopt;
    }

    void account(const toml::table& t, std::string_view key, std::string_view where,
                 std::optional<std::string>& out, SourcePos& pos) {
        if (auto n = t.get(key)) {
            pos = toml_pos(n->source());
            if (auto s = string(*n, std::string(where) + " '" + std::string(key) + "'")) {
                if (auto why = account_name_rule(*s); !why.empty()) {
                    error(*n, std::string(where) + " '" + std::string(key) + "': " + why);
                } else {
                    out = *s;
                }
            }
        }
    }

    Resource resource(Kind kind, const toml::table& t, const std::string& file) {
        Resource r;
        r.kind = kind;
        r.state_file = file;
        r.pos = toml_pos(t.source());
        std::string where = "[[" + std::string(kind_name(kind)) + "]]";
        auto need = [&](std::string_view key) -> const toml::node* {
            auto n = t.get(key);
            if (!n) {
                error(r.pos, where + " needs '" + std::string(key) + "'");
            }
            return n;
        };
        auto opt_path = [&](std::string_view key, std::string& out) {
            if (auto n = need(key)) {
                if (auto p = abs_path(*n, where + " '" + std::string(key) + "'")) {
                    out = *p;
                }
            }
        };
        auto opt_string = [&](std::string_view key, std::string& out) {
            if (auto n = t.get(key)) {
                if (auto s = string(*n, where + " '" + std::string(key) + "'")) {
                    out = *s;
                }
            }
        };
        auto opt_checked = [&](std::string_view key, std::string& out, Rule rule) {
            if (auto n = t.get(key)) {
                if (auto s = checked(*n, where + " '" + std::string(key) + "'", rule)) {
                    out = *s;
                }
            }
        };
        auto opt_bool = [&](std::string_view key, bool& out) {
            if (auto n = t.get(key)) {
                if (auto b = boolean(*n, where + " '" + std::string(key) + "'")) {
                    out = *b;
                }
            }
        };
        auto opt_mode = [&]() {
            if (auto n = t.get("mode")) {
                r.mode = mode(*n, where + " 'mode'");
            }
        };
        auto ownership = [&]() {
            opt_mode();
            account(t, "owner", where, r.owner, r.owner_pos);
            account(t, "group", where, r.group, r.group_pos);
        };
        auto name = [&](Rule rule) {
            if (auto n = need("name")) {
                r.name_pos = toml_pos(n->source());
                if (auto s = string(*n, where + " 'name'")) {
                    std::string why = rule(*s);
                    if (!why.empty()) {
                        error(*n, where + " 'name': " + why);
                    }
                    r.name = *s;
                }
            }
        };
        auto id = [&](std::string_view key) {
            if (auto n = t.get(key)) {
                r.id = integer(*n, where + " '" + std::string(key) + "'", 0, 4294967294);
            }
        };
        switch (kind) {
            case Kind::file: {
                check_keys(t, where,
                           {"path", "content", "source", "template", "mode", "owner", "group"});
                opt_path("path", r.path);
                auto content = t.get("content");
                auto source = t.get("source");
                if (content && source) {
                    error(*source, where + " takes 'content' or 'source', not both");
                } else if (!content && !source) {
                    error(r.pos, where + " needs 'content' or 'source'");
                }
                opt_string("content", r.content);
                if (source) {
                    r.source_pos = toml_pos(source->source());
                    opt_string("source", r.source);
                    check_source(*source, where, r.source);
                }
                opt_bool("template", r.templated);
                ownership();
                break;
            }
            case Kind::directory:
                check_keys(t, where, {"path", "mode", "owner", "group"});
                opt_path("path", r.path);
                ownership();
                break;
            case Kind::tree:
                check_keys(t, where, {"path", "source", "mode", "owner", "group", "purge"});
                opt_path("path", r.path);
                if (auto n = need("source")) {
                    r.source_pos = toml_pos(n->source());
                    opt_string("source", r.source);
                    check_source(*n, where, r.source);
                }
                opt_bool("purge", r.recurse);
                ownership();
                break;
            case Kind::symlink:
                check_keys(t, where, {"path", "target"});
                opt_path("path", r.path);
                if (need("target")) {
                    opt_checked("target", r.target, &link_target_rule);
                }
                break;
            case Kind::absent:
                check_keys(t, where, {"path", "recurse"});
                opt_path("path", r.path);
                opt_bool("recurse", r.recurse);
                break;
            case Kind::package: {
                check_keys(t, where, {"name", "version", "deb"});
                auto deb = t.get("deb");
                if (!deb || t.get("name")) {
                    name(&package_name_rule);
                }
                r.version = "present";
                if (deb) {
                    r.deb_pos = toml_pos(deb->source());
                    if (auto v = t.get("version")) {
                        error(*v, where +
                                      " takes 'deb' or 'version', not both (the version is the "
                                      ".deb's own)");
                    }
                    opt_string("deb", r.deb);
                    check_source(*deb, where, r.deb, "deb");
                    if (!r.deb.empty() &&
                        (r.deb.size() < 5 || r.deb.compare(r.deb.size() - 4, 4, ".deb") != 0)) {
                        error(*deb,
                              where + " 'deb' must name a .deb file, found " + quote_value(r.deb));
                    }
                } else {
                    opt_checked("version", r.version, &package_version_rule);
                }
                break;
            }
            case Kind::service:
                check_keys(t, where, {"name", "enabled", "running", "restart_on"});
                name(&unit_name_rule);
                if (auto n = t.get("enabled")) {
                    r.enabled = boolean(*n, where + " 'enabled'");
                }
                if (auto n = t.get("running")) {
                    r.running = boolean(*n, where + " 'running'");
                }
                if (auto n = t.get("restart_on")) {
                    r.restart_on_pos = toml_pos(n->source());
                    if (auto a = words(*n, where + " 'restart_on'", &argv_word_rule, true)) {
                        r.restart_on = *a;
                    }
                }
                if (!t.get("enabled") && !t.get("running") && !t.get("restart_on")) {
                    error(r.pos, where + " needs 'enabled', 'running' or 'restart_on'");
                }
                break;
            case Kind::user:
                check_keys(t, where, {"name", "system", "home", "shell", "uid", "group"});
                name(&account_name_rule);
                opt_bool("system", r.system);
                opt_checked("home", r.home, &account_path_rule);
                opt_checked("shell", r.shell, &account_path_rule);
                id("uid");
                account(t, "group", where, r.group, r.group_pos);
                break;
            case Kind::group:
                check_keys(t, where, {"name", "system", "gid"});
                name(&account_name_rule);
                opt_bool("system", r.system);
                id("gid");
                break;
            case Kind::line:
                check_keys(t, where, {"path", "line"});
                opt_path("path", r.path);
                if (need("line")) {
                    opt_checked("line", r.line, &line_rule);
                }
                break;
            case Kind::command:
                check_keys(t, where, {"run", "unless", "when_changed"});
                if (auto n = need("run")) {
                    if (auto a = words(*n, where + " 'run'", &argv_word_rule, false)) {
                        r.run = *a;
                    }
                }
                if (auto n = t.get("unless")) {
                    if (auto a = words(*n, where + " 'unless'", &argv_word_rule, false)) {
                        r.unless = *a;
                    }
                }
                if (auto n = t.get("when_changed")) {
                    r.when_changed_pos = toml_pos(n->source());
                    if (auto a = words(*n, where + " 'when_changed'", &path_rule, true)) {
                        r.when_changed = *a;
                    }
                }
                if (!t.get("unless") && !t.get("when_changed")) {
                    error(r.pos, where +
                                     " needs 'unless' or 'when_changed', so that a second "
                                     "apply changes nothing");
                }
                break;
        }
        return r;
    }
};

// Reads `path` into `out`; on failure returns the reason alone ("No such file or directory"),
// for messages that name the file their own way.
std::optional<std::string> read_whole(const std::string& path, std::string& out) {
    auto text = os::read_whole_file(path);
    if (!text) {
        // read_whole_file's message is "reading 'PATH': <reason>".
        const std::string& message = text.error().message();
        const std::string context = "reading '" + path + "': ";
        return message.compare(0, context.size(), context) == 0 ? message.substr(context.size())
                                                                : message;
    }
    out = std::move(*text);
    return std::nullopt;
}

// Renders one templated value of `r` and checks the result with the rule the parser checked the
// literal with. A rendered value that breaks the rule is an error naming the key and the
// parameters to fix (those whose values break the rule, else all the value uses).
bool render_one(std::string& text, std::string_view key, Rule rule, const Variables& vars,
                const Resource& r, const std::string& file, Diagnostics& diags) {
    if (text.find("{{") == std::string::npos) {
        return true;
    }
    std::string where = "[[" + std::string(kind_name(r.kind)) + "]] '" + std::string(key) + "'";
    auto rendered = render_template(text, vars);
    if (!rendered) {
        diags.add(file, r.pos, where + ": " + rendered.error().message());
        return false;
    }
    if (std::string why = rule ? rule(*rendered) : std::string(); !why.empty()) {
        auto guilty =
            template_blame(text, vars, [&](const std::string& v) { return rule(v).empty(); });
        std::string names;
        for (const auto& g : guilty) {
            names += (names.empty() ? "'" : ", '") + g + "'";
        }
        diags.add(file, r.pos,
                  where + " as rendered from " + quote_value(text) + " " + why +
                      "; fix the value of the parameter" + (guilty.size() == 1 ? " " : "s ") +
                      names);
        return false;
    }
    text = std::move(*rendered);
    return true;
}

// Renders every templated field of `r` and re-checks each with its parser rule (model.hpp).
bool render_fields(Resource& r, const Variables& vars, const std::string& file,
                   Diagnostics& diags) {
    const bool path_kind = r.is_path_kind();
    const bool account = r.kind == Kind::user;
    struct Field {
        std::string* value;
        std::string_view key;
        Rule rule;
    };
    const Field fields[] = {
        {&r.path, "path", path_kind ? &path_rule : &argv_word_rule},
        {&r.target, "target", &link_target_rule},
        {&r.line, "line", &line_rule},
        {&r.home, "home", account ? &account_path_rule : &argv_word_rule},
        {&r.shell, "shell", account ? &account_path_rule : &argv_word_rule},
        {&r.version, "version", &package_version_rule},
    };
    bool ok = true;
    for (const auto& f : fields) {
        ok = render_one(*f.value, f.key, f.rule, vars, r, file, diags) && ok;
    }
    for (auto [list, key, rule] : {std::tuple{&r.run, "run", &argv_word_rule},
                                   std::tuple{&r.unless, "unless", &argv_word_rule},
                                   std::tuple{&r.restart_on, "restart_on", &argv_word_rule},
                                   std::tuple{&r.when_changed, "when_changed", &path_rule}}) {
        for (auto& item : *list) {
            ok = render_one(item, key, rule, vars, r, file, diags) && ok;
        }
    }
    return ok;
}

}  // namespace

std::vector<Resource> parse_state(std::string_view text, const std::string& path,
                                  Diagnostics& diags) {
    Reader reader(path, diags);
    std::vector<Resource> out;
    auto doc = reader.parse(text);
    if (!doc) {
        return out;
    }
    reader.check_keys(*doc, "a state file",
                      {"file", "directory", "tree", "symlink", "absent", "package", "user", "group",
                       "line", "service", "command"});
    for (Kind kind : k_kinds) {
        auto node = doc->get(kind_name(kind));
        if (!node) {
            continue;
        }
        auto tables = reader.tables(*node, kind_name(kind));
        if (!tables) {
            continue;
        }
        for (const auto& item : *tables) {
            if (auto t = item.as_table()) {
                out.push_back(reader.resource(kind, *t, path));
            }
        }
    }
    // Keep declaration order within the file: toml++ groups by key, so restore line order.
    std::stable_sort(out.begin(), out.end(),
                     [](const Resource& a, const Resource& b) { return a.pos.line < b.pos.line; });
    return out;
}

Result<DesiredState> load_state(const std::vector<std::string>& files, const LoadOptions& options) {
    Diagnostics diags;
    DesiredState state;
    std::optional<Variables> facts_vars;
    std::optional<Error> facts_error;
    std::optional<Result<os::Fd>> repo;  // the ops repo's handle, opened for the first source
    for (const auto& file : files) {
        if (std::find(state.state_files.begin(), state.state_files.end(), file) !=
            state.state_files.end()) {
            continue;
        }
        state.state_files.push_back(file);
        std::string text;
        if (auto why = read_whole(options.repo_root + "/" + file, text)) {
            diags.add(file, {}, "cannot read state file: " + *why);
            continue;
        }
        auto parsed = parse_state(text, file, diags);
        for (auto& r : parsed) {
            if (!r.source.empty()) {
                // Sources are read beneath the repo's handle: one that leaves the repo through
                // a symlink is refused here, at its `source` key.
                if (!repo) {
                    repo = os::open_root(options.repo_root);
                }
                std::optional<std::string> why =
                    !*repo ? repo->error().message()
                    : r.kind == Kind::file
                        ? read_file_source(repo->value().get(), r.source, r.content)
                    : r.kind == Kind::tree ? check_tree_source(repo->value().get(), r.source)
                                           : std::nullopt;
                if (why) {
                    diags.add(file, r.source_pos, *why);
                    continue;
                }
            }
            if (r.kind == Kind::package && !r.deb.empty() &&
                (!render_one(r.deb, "deb", &deb_rule, options.vars, r, file, diags) ||
                 !load_deb(r, options, repo, file, diags))) {
                continue;
            }
            // {{name}} works in paths, targets, lines, versions, home, shell and commands;
            // file content needs template = true (content may carry other tools' braces).
            if (!render_fields(r, options.vars, file, diags)) {
                continue;
            }
            if (r.templated) {
                Variables vars = options.vars;
                auto names = template_names(r.content);
                bool wants_facts = false;
                if (names) {
                    for (const auto& n : *names) {
                        wants_facts = wants_facts || n.rfind("facts.", 0) == 0;
                    }
                }
                if (wants_facts && !facts_vars && !facts_error && options.facts) {
                    auto fv = options.facts();
                    if (fv) {
                        facts_vars = std::move(*fv);
                    } else {
                        facts_error = fv.error();
                    }
                }
                if (wants_facts && facts_vars) {
                    vars.insert(facts_vars->begin(), facts_vars->end());
                }
                auto rendered = render_template(r.content, vars);
                if (!rendered) {
                    std::string why = rendered.error().message();
                    if (wants_facts && facts_error) {
                        why += " (facts unavailable: " + facts_error->message() + ")";
                    }
                    diags.add(file, r.source.empty() ? r.pos : r.source_pos,
                              "template of " + r.label() + ": " + why);
                    continue;
                }
                r.content = std::move(*rendered);
            }
            state.resources.push_back(std::move(r));
        }
    }
    validate_state(state.resources, options.accounts, diags);
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    order_resources(state.resources);
    return state;
}

}  // namespace shipshape::state
