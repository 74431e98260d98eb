// The toml++ adapter for checklists (through core/toml_reader.hpp). It turns a TOML
// document into the model and records structural problems (unknown keys, wrong types, bad
// durations); validate.cpp then checks the graph and the templates.
#include <set>

#include "checklist/load.hpp"
#include "checklist/validate.hpp"
#include "core/toml_reader.hpp"

namespace shipshape::checklist {

namespace {

SourcePos pos_of(const toml::source_region& r) {
    return toml_pos(r);
}

class Reader : public TomlReader {
  public:
    using TomlReader::TomlReader;

    // A string that reaches argv, the shell, the environment or a path: a NUL would cut it
    // where the system reads it (argv "x\0y" ran x), so it is an error here.
    std::optional<std::string> word(const toml::node& n, std::string_view where) {
        auto s = string(n, where);
        if (s && s->find('\0') != std::string::npos) {
            error(pos_of(n.source()), std::string(where) + " must not contain a NUL byte");
            return std::nullopt;
        }
        return s;
    }

    std::optional<std::vector<std::string>> string_array(const toml::node& n,
                                                         std::string_view where) {
        auto a = strings(n, where);
        if (!a) {
            return a;
        }
        bool ok = true;
        const auto* arr = n.as_array();
        for (size_t i = 0; i < a->size(); ++i) {
            if ((*a)[i].find('\0') != std::string::npos) {
                const toml::node* item = arr ? arr->get(i) : nullptr;
                error(pos_of(item ? item->source() : n.source()),
                      std::string(where) + " element " + std::to_string(i + 1) +
                          " must not contain a NUL byte");
                ok = false;
            }
        }
        return ok ? a : std::nullopt;
    }

    std::optional<Millis> duration(const toml::node& n, std::string_view where) {
        auto text = string(n, where);
        if (!text) {
            return std::nullopt;
        }
        auto d = parse_duration(*text);
        if (!d) {
            error(pos_of(n.source()), std::string(where) + ": " + d.error().message());
            return std::nullopt;
        }
        return *d;
    }

    // A command: ["argv", ...] or { sh = "shell line" }.
    std::optional<Command> command(const toml::node& n, std::string_view where) {
        Command c;
        c.pos = pos_of(n.source());
        if (n.is_array()) {
            auto argv = string_array(n, where);
            if (!argv) {
                return std::nullopt;
            }
            if (argv->empty()) {
                error(c.pos, std::string(where) + " must not be empty");
                return std::nullopt;
            }
            c.argv = std::move(*argv);
            return c;
        }
        if (auto t = n.as_table()) {
            check_keys(*t, where, {"sh"});
            auto sh = t->get("sh");
            if (!sh) {
                error(c.pos, std::string(where) + " as a table needs 'sh = \"...\"'");
                return std::nullopt;
            }
            auto text = word(*sh, std::string(where) + ".sh");
            if (!text) {
                return std::nullopt;
            }
            if (text->empty()) {
                error(pos_of(sh->source()), std::string(where) + ".sh must not be empty");
                return std::nullopt;
            }
            c.shell = std::move(*text);
            return c;
        }
        wrong_type(where, n,
                   "an argv array such as [\"systemctl\", \"reload\", \"nginx\"] or "
                   "{ sh = \"...\" }");
        return std::nullopt;
    }

    void read_step(const toml::table& t, Checklist& out) {
        Step step;
        step.pos = pos_of(t.source());
        std::string where = "step";
        if (auto id = t.get("id")) {
            if (auto s = string(*id, "step 'id'")) {
                step.id = *s;
                where = "step '" + step.id + "'";
                if (step.id.empty()) {
                    error(pos_of(id->source()), "step 'id' must not be empty");
                }
            }
        } else {
            error(step.pos, "step has no 'id'");
        }
        check_keys(t, where,
                   {"id", "description", "run", "sh", "manual", "role", "unless", "verify", "undo",
                    "needs", "timeout", "retries", "retry_delay", "env", "cwd", "on", "serial",
                    "max_fail", "signed"});
        if (auto n = t.get("description")) {
            if (auto s = string(*n, where + " 'description'")) {
                step.description = *s;
            }
        }
        const toml::node* run = t.get("run");
        const toml::node* sh = t.get("sh");
        const toml::node* manual = t.get("manual");
        int forms = (run ? 1 : 0) + (sh ? 1 : 0) + (manual ? 1 : 0);
        if (forms != 1) {
            error(step.pos, where +
                                " must have exactly one of 'run' (argv array), 'sh' (shell "
                                "line) or 'manual' (a person confirms)" +
                                (forms == 0 ? std::string() : ", found " + std::to_string(forms)));
        }
        if (run) {
            if (auto c = command(*run, where + " 'run'")) {
                step.run = std::move(*c);
            }
        }
        if (sh) {
            if (auto s = word(*sh, where + " 'sh'")) {
                step.run.shell = *s;
                step.run.pos = pos_of(sh->source());
                if (s->empty()) {
                    error(step.run.pos, where + " 'sh' must not be empty");
                }
            }
        }
        if (manual) {
            step.kind = StepKind::manual;
            if (auto s = string(*manual, where + " 'manual'")) {
                step.manual = *s;
            }
            if (auto r = t.get("role")) {
                if (auto s = string(*r, where + " 'role'")) {
                    step.role = *s;
                }
            } else {
                error(pos_of(manual->source()),
                      where + " is manual and needs a 'role' that checks it off");
            }
            for (auto key : {"unless", "verify", "undo", "timeout", "retries", "retry_delay", "env",
                             "cwd", "on", "serial", "max_fail"}) {
                if (auto n = t.get(key)) {
                    error(pos_of(n->source()), where + " is manual: '" + std::string(key) +
                                                   "' applies only to commands");
                }
            }
        } else if (auto r = t.get("role")) {
            error(pos_of(r->source()), where + ": 'role' applies only to manual steps");
        }
        if (auto n = t.get("signed")) {
            if (!manual) {
                error(pos_of(n->source()), where + ": 'signed' applies only to manual steps");
            } else if (auto b = n->as_boolean()) {
                step.signed_check_off = b->get();
            } else {
                error(pos_of(n->source()), where + " 'signed' must be true or false");
            }
        }
        if (step.kind == StepKind::command) {
            if (auto n = t.get("unless")) {
                step.unless = command(*n, where + " 'unless'");
            }
            if (auto n = t.get("verify")) {
                step.verify = command(*n, where + " 'verify'");
            }
            if (auto n = t.get("undo")) {
                step.undo = command(*n, where + " 'undo'");
            }
            if (auto n = t.get("timeout")) {
                step.timeout = duration(*n, where + " 'timeout'").value_or(Millis(0));
            }
            if (auto n = t.get("retries")) {
                step.retries =
                    static_cast<int>(integer(*n, where + " 'retries'", 0, 100).value_or(0));
            }
            if (auto n = t.get("retry_delay")) {
                step.retry_delay = duration(*n, where + " 'retry_delay'").value_or(Millis(0));
            }
            if (auto n = t.get("cwd")) {
                step.cwd = word(*n, where + " 'cwd'").value_or("");
            }
            if (auto n = t.get("on")) {
                step.on = word(*n, where + " 'on'").value_or("");
                step.on_pos = pos_of(n->source());
                if (step.on.empty()) {
                    error(step.on_pos, where + " 'on' names hosts: web*, group:web or env:prod");
                }
            }
            for (auto key : {"serial", "max_fail"}) {
                if (auto n = t.get(key)) {
                    int v = static_cast<int>(
                        integer(*n, where + " '" + key + "'", 1, 100000).value_or(1));
                    (std::string_view(key) == "serial" ? step.serial : step.max_fail) = v;
                    if (!t.get("on")) {
                        error(pos_of(n->source()), where + ": '" + std::string(key) +
                                                       "' applies only to steps with 'on'");
                    }
                }
            }
            if (auto n = t.get("env")) {
                if (auto env = n->as_table()) {
                    for (auto&& [key, value] : *env) {
                        std::string k(key.str());
                        if (k.empty() ||
                            k.find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
                            error(pos_of(value.source()),
                                  where +
                                      " env: a variable name must not be empty nor contain "
                                      "'=' or a NUL byte");
                            continue;
                        }
                        if (auto s = word(value, where + " env '" + k + "'")) {
                            step.env.emplace_back(k, *s);
                        }
                    }
                } else {
                    wrong_type(where + " 'env'", *n, "a table of strings");
                }
            }
        }
        if (auto n = t.get("needs")) {
            if (auto needs = string_array(*n, where + " 'needs'")) {
                step.needs = *needs;
            }
        }
        m_step_needs_pos.push_back(t.get("needs") ? pos_of(t.get("needs")->source()) : step.pos);
        out.steps.push_back(std::move(step));
    }

    void read_params(const toml::node& n, Checklist& out) {
        auto table = n.as_table();
        if (!table) {
            wrong_type("'params'", n, "a table of [params.NAME] tables");
            return;
        }
        for (auto&& [key, value] : *table) {
            Param p;
            p.name = std::string(key.str());
            std::string where = "param '" + p.name + "'";
            auto t = value.as_table();
            if (!t) {
                wrong_type(where, value, "a table (write [params." + p.name + "])");
                continue;
            }
            check_keys(*t, where, {"required", "description", "default"});
            if (auto r = t->get("required")) {
                p.required = boolean(*r, where + " 'required'").value_or(false);
            }
            if (auto d = t->get("description")) {
                p.description = string(*d, where + " 'description'").value_or("");
            }
            if (auto d = t->get("default")) {
                p.default_value = word(*d, where + " 'default'");
            }
            out.params.push_back(std::move(p));
        }
    }

    std::vector<SourcePos> m_step_needs_pos;
};

std::string default_name(std::string_view path) {
    size_t slash = path.rfind('/');
    std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (base.size() > 5 && base.substr(base.size() - 5) == ".toml") {
        base.remove_suffix(5);
    }
    return std::string(base);
}

}  // namespace

Result<Checklist> parse_checklist(std::string_view text, std::string_view path) {
    Diagnostics diags;
    Reader r(std::string(path), diags);
    auto parsed = r.parse(text);
    if (!parsed) {
        return fail(diags.to_error());
    }
    const toml::table& doc = *parsed;
    Checklist out;
    out.path = std::string(path);
    out.name = default_name(path);
    r.check_keys(doc, "the checklist", {"name", "description", "parallel", "params", "step"});
    if (auto n = doc.get("name")) {
        out.name = r.string(*n, "'name'").value_or(out.name);
    }
    if (auto n = doc.get("description")) {
        out.description = r.string(*n, "'description'").value_or("");
    }
    if (auto n = doc.get("parallel")) {
        out.parallel = static_cast<int>(r.integer(*n, "'parallel'", 1, 1024).value_or(4));
    }
    if (auto n = doc.get("params")) {
        r.read_params(*n, out);
    }
    if (auto n = doc.get("step")) {
        if (auto arr = n->as_array(); arr && arr->is_array_of_tables()) {
            for (auto&& item : *arr) {
                r.read_step(*item.as_table(), out);
            }
        } else {
            r.wrong_type("'step'", *n, "an array of tables (write [[step]])");
        }
    } else {
        diags.add(std::string(path), SourcePos{1, 1},
                  "the checklist has no steps (add [[step]] tables)");
    }
    validate_checklist(out, r.m_step_needs_pos, diags);
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    return out;
}

}  // namespace shipshape::checklist
