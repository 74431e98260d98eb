// The toml++ adapter for state files (through core/toml_reader.hpp), plus loading of sources
// and templates. Cross-resource validation lives in validate.cpp.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/toml_reader.hpp"
#include "os/beneath.hpp"
#include "os/file_system.hpp"
#include "state/load.hpp"
#include "state/sources.hpp"

namespace shipshape::state {

namespace {

constexpr Kind k_kinds[] = {Kind::file,   Kind::directory, Kind::tree, Kind::symlink,
                            Kind::absent, Kind::package,   Kind::user, Kind::group,
                            Kind::line,   Kind::command};

bool valid_account_name(std::string_view name) {
    if (name.empty() || name.size() > 32 || name.front() == '-') {
        return false;
    }
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

bool valid_package_name(std::string_view name) {
    if (name.size() < 2) {
        return false;
    }
    for (char c : name) {
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

class Reader : public TomlReader {
  public:
    using TomlReader::TomlReader;

    // An absolute, normalized path: no ".", "..", "//" or trailing "/".
    std::optional<std::string> abs_path(const toml::node& n, std::string_view where) {
        auto s = string(n, where);
        if (!s) {
            return std::nullopt;
        }
        if (s->empty() || s->front() != '/') {
            error(n, std::string(where) + " must be an absolute path, found \"" + *s + "\"");
            return std::nullopt;
        }
        if (*s == "/") {
            error(n, std::string(where) + " must not be the root directory");
            return std::nullopt;
        }
        if (!is_normalized_absolute(*s)) {
            error(n, std::string(where) +
                         " must be a normalized path (no '.', '..', '//' or "
                         "trailing '/'), found \"" +
                         *s + "\"");
            return std::nullopt;
        }
        return s;
    }

    void check_source(const toml::node& n, const std::string& where, const std::string& source) {
        if (!source.empty() &&
            (source.front() == '/' || source == ".." || source.rfind("../", 0) == 0 ||
             source.find("/../") != std::string::npos ||
             (source.size() >= 3 && source.compare(source.size() - 3, 3, "/..") == 0))) {
            error(n,
                  where + " 'source' must be a path inside the ops repo, found \"" + source + "\"");
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

    std::optional<std::vector<std::string>> argv(const toml::node& n, std::string_view where) {
        auto a = strings(n, where);
        if (a && a->empty()) {
            error(n, std::string(where) + " must not be empty");
            return std::nullopt;
        }
        return a;
    }

    void account(const toml::table& t, std::string_view key, std::string_view where,
                 std::optional<std::string>& out, SourcePos& pos) {
        if (auto n = t.get(key)) {
            pos = toml_pos(n->source());
            if (auto s = string(*n, std::string(where) + " '" + std::string(key) + "'")) {
                if (!valid_account_name(*s)) {
                    error(*n, std::string(where) + " '" + std::string(key) + "': \"" + *s +
                                  "\" is not a valid user or group name");
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
        auto name = [&](bool package) {
            if (auto n = need("name")) {
                if (auto s = string(*n, where + " 'name'")) {
                    bool ok = package ? valid_package_name(*s) : valid_account_name(*s);
                    if (!ok) {
                        error(*n, where + " 'name': \"" + *s + "\" is not a valid " +
                                      (package ? "Debian package name" : "user or group name"));
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
                    opt_string("target", r.target);
                    if (r.target.empty()) {
                        error(*t.get("target"), where + " 'target' must not be empty");
                    }
                }
                break;
            case Kind::absent:
                check_keys(t, where, {"path", "recurse"});
                opt_path("path", r.path);
                opt_bool("recurse", r.recurse);
                break;
            case Kind::package:
                check_keys(t, where, {"name", "version"});
                name(true);
                r.version = "present";
                opt_string("version", r.version);
                if (r.version.empty()) {
                    error(*t.get("version"),
                          where + " 'version' must not be empty (use \"present\")");
                }
                break;
            case Kind::user:
                check_keys(t, where, {"name", "system", "home", "shell", "uid", "group"});
                name(false);
                opt_bool("system", r.system);
                opt_string("home", r.home);
                opt_string("shell", r.shell);
                id("uid");
                account(t, "group", where, r.group, r.group_pos);
                break;
            case Kind::group:
                check_keys(t, where, {"name", "system", "gid"});
                name(false);
                opt_bool("system", r.system);
                id("gid");
                break;
            case Kind::line:
                check_keys(t, where, {"path", "line"});
                opt_path("path", r.path);
                if (need("line")) {
                    opt_string("line", r.line);
                    if (r.line.find('\n') != std::string::npos) {
                        error(*t.get("line"), where + " 'line' must be a single line");
                    }
                }
                break;
            case Kind::command:
                check_keys(t, where, {"run", "unless", "when_changed"});
                if (auto n = need("run")) {
                    if (auto a = argv(*n, where + " 'run'")) {
                        r.run = *a;
                    }
                }
                if (auto n = t.get("unless")) {
                    if (auto a = argv(*n, where + " 'unless'")) {
                        r.unless = *a;
                    }
                }
                if (auto n = t.get("when_changed")) {
                    r.when_changed_pos = toml_pos(n->source());
                    if (auto a = strings(*n, where + " 'when_changed'")) {
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

bool render_one(std::string& text, const Variables& vars, const Resource& r,
                const std::string& file, Diagnostics& diags) {
    if (text.find("{{") == std::string::npos) {
        return true;
    }
    auto rendered = render_template(text, vars);
    if (!rendered) {
        diags.add(file, r.pos, r.label() + ": " + rendered.error().message());
        return false;
    }
    text = std::move(*rendered);
    return true;
}

bool render_fields(Resource& r, const Variables& vars, const std::string& file,
                   Diagnostics& diags) {
    bool ok = true;
    for (std::string* f : {&r.path, &r.target, &r.line, &r.home, &r.shell, &r.version}) {
        ok = render_one(*f, vars, r, file, diags) && ok;
    }
    for (auto* list : {&r.run, &r.unless, &r.when_changed}) {
        for (auto& item : *list) {
            ok = render_one(item, vars, r, file, diags) && ok;
        }
    }
    if (ok && r.is_path_kind() && !is_normalized_absolute(r.path)) {
        diags.add(file, r.pos,
                  r.label() +
                      ": the rendered path must stay absolute and normalized (no '.', "
                      "'..', '//' or trailing '/')");
        ok = false;
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
                       "line", "command"});
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
