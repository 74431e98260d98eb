#include "checklist/validate.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "checklist/load.hpp"
#include "core/suggest.hpp"
#include "core/template.hpp"

namespace shipshape::checklist {

namespace {

std::string suggestion(std::string_view name, const std::vector<std::string>& candidates) {
    return did_you_mean(name, std::vector<std::string_view>(candidates.begin(), candidates.end()));
}

bool valid_id(std::string_view id) {
    if (id.empty()) {
        return false;
    }
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

class Validator {
  public:
    Validator(const Checklist& c, const std::vector<SourcePos>& needs_pos, Diagnostics& d)
        : m_c(c), m_needs_pos(needs_pos), m_diags(d) {}

    void run() {
        check_ids();
        check_needs();
        check_cycles();
        check_templates();
    }

  private:
    void error(SourcePos pos, std::string message) {
        m_diags.add(m_c.path, pos, std::move(message));
    }

    void check_ids() {
        std::map<std::string, SourcePos> seen;
        for (const auto& s : m_c.steps) {
            if (s.id.empty()) {
                continue;
            }
            if (!valid_id(s.id)) {
                error(s.pos,
                      "step id '" + s.id + "' may contain only letters, digits, '-', '_' and '.'");
            }
            auto [it, inserted] = seen.emplace(s.id, s.pos);
            if (!inserted) {
                error(s.pos, "duplicate step id '" + s.id + "' (first defined at line " +
                                 std::to_string(it->second.line) + ")");
            }
            m_ids.push_back(s.id);
        }
        std::set<std::string> params;
        for (const auto& p : m_c.params) {
            if (p.required && p.default_value) {
                error(SourcePos{}, "param '" + p.name + "' is required and also has a default");
            }
        }
    }

    void check_needs() {
        for (size_t i = 0; i < m_c.steps.size(); ++i) {
            m_index.emplace(m_c.steps[i].id, i);  // the first of duplicate ids, as find_step
        }
        for (size_t i = 0; i < m_c.steps.size(); ++i) {
            const auto& s = m_c.steps[i];
            std::set<std::string> seen;
            for (const auto& n : s.needs) {
                if (m_index.find(n) == m_index.end()) {
                    std::vector<std::string> others;
                    for (const auto& id : m_ids) {
                        if (id != s.id) {
                            others.push_back(id);
                        }
                    }
                    error(m_needs_pos[i], "step '" + s.id + "' needs unknown step '" + n + "'" +
                                              suggestion(n, others));
                } else if (n == s.id) {
                    error(m_needs_pos[i], "step '" + s.id + "' needs itself");
                } else if (!seen.insert(n).second) {
                    error(m_needs_pos[i], "step '" + s.id + "' lists '" + n + "' twice in needs");
                }
            }
        }
    }

    // Depth-first search; each back edge closes a cycle, which is reported once by its members.
    // Iterative, with the path on an explicit stack: a chain of 100,000 steps must not overflow
    // the call stack (a recursive search did, at about 40,000).
    void check_cycles() {
        const size_t n = m_c.steps.size();
        std::vector<int> color(n, 0);        // 0 new, 1 on the path, 2 done
        std::vector<size_t> path;            // the steps on the current path, in order
        std::vector<size_t> next;            // per path entry: the index of its next need to follow
        std::vector<size_t> path_pos(n, 0);  // where a step on the path stands in it
        std::set<std::set<size_t>> reported;
        for (size_t root = 0; root < n; ++root) {
            if (color[root] != 0) {
                continue;
            }
            color[root] = 1;
            path_pos[root] = 0;
            path.assign(1, root);
            next.assign(1, 0);
            while (!path.empty()) {
                const size_t v = path.back();
                const auto& needs = m_c.steps[v].needs;
                if (next.back() == needs.size()) {
                    color[v] = 2;
                    path.pop_back();
                    next.pop_back();
                    continue;
                }
                const auto it = m_index.find(needs[next.back()++]);
                if (it == m_index.end() || it->second == v) {
                    continue;
                }
                const size_t w = it->second;
                if (color[w] == 0) {
                    color[w] = 1;
                    path_pos[w] = path.size();
                    path.push_back(w);
                    next.push_back(0);
                } else if (color[w] == 1) {
                    report_cycle(path, path_pos[w], w, reported);
                }
            }
        }
    }

    // The cycle closed by an edge back to `w`, which stands at `from` on `path`.
    void report_cycle(const std::vector<size_t>& path, size_t from, size_t w,
                      std::set<std::set<size_t>>& reported) {
        std::set<size_t> members(path.begin() + static_cast<std::ptrdiff_t>(from), path.end());
        if (!reported.insert(members).second) {
            return;
        }
        // Printed in "needs" direction: a -> b -> ... -> a.
        std::string text;
        for (size_t p = from; p < path.size(); ++p) {
            text += m_c.steps[path[p]].id + " -> ";
        }
        text += m_c.steps[w].id;
        error(m_needs_pos[w], "dependency cycle: " + text);
    }

    void check_string(const std::string& text, SourcePos pos, const std::string& where) {
        auto names = template_names(text);
        if (!names) {
            error(pos, where + ": " + names.error().message());
            return;
        }
        for (const auto& n : *names) {
            if (m_on_hosts && (n == "host" || n == "host.address" || n == "host.env" ||
                               n == "host.user" || n.rfind("host.tags.", 0) == 0)) {
                continue;  // rendered per host (a missing tag is an error of that host)
            }
            if (n.rfind("facts.", 0) == 0 && n.size() > 6) {
                continue;  // gathered when a run renders (a missing fact is an error then)
            }
            if (m_known.count(n) == 0) {
                std::vector<std::string> known(m_known.begin(), m_known.end());
                error(pos, where + " uses unknown variable '{{" + n + "}}'" + suggestion(n, known) +
                               "; declare it under [params." + n + "]");
            }
        }
    }

    void check_command(const std::optional<Command>& c, const std::string& where) {
        if (!c) {
            return;
        }
        if (c->is_shell()) {
            check_string(c->shell, c->pos, where);
        }
        for (const auto& a : c->argv) {
            check_string(a, c->pos, where);
        }
    }

    void check_templates() {
        for (const auto& b : k_builtin_variables) {
            m_known.insert(b);
        }
        for (const auto& p : m_c.params) {
            m_known.insert(p.name);
        }
        for (const auto& s : m_c.steps) {
            std::string where = "step '" + s.id + "'";
            m_on_hosts = s.on_hosts();
            if (s.kind == StepKind::command) {
                check_command(s.run, where + " 'run'");
            }
            check_command(s.unless, where + " 'unless'");
            check_command(s.verify, where + " 'verify'");
            check_command(s.undo, where + " 'undo'");
            for (const auto& [k, v] : s.env) {
                check_string(v, s.pos, where + " env '" + k + "'");
            }
            check_string(s.cwd, s.pos, where + " 'cwd'");
            check_string(s.manual, s.pos, where + " 'manual'");
        }
    }

    const Checklist& m_c;
    std::map<std::string, size_t, std::less<>> m_index;  // step id -> its first index
    const std::vector<SourcePos>& m_needs_pos;
    Diagnostics& m_diags;
    std::vector<std::string> m_ids;
    std::set<std::string> m_known;
    bool m_on_hosts = false;
};

}  // namespace

std::vector<Diagnostic> shell_warnings(const Checklist& checklist) {
    std::vector<Diagnostic> out;
    auto trusted = [](const std::string& n) {
        return n == "env" || n == "run" || n == "repo" || n == "host" || n.rfind("host.", 0) == 0;
    };
    auto check = [&](const std::string& line, SourcePos pos, const std::string& where,
                     std::string_view form) {
        for (const auto& r : unquoted_shell_refs(line, trusted)) {
            bool fact = r.name.rfind("facts.", 0) == 0;
            out.push_back(Diagnostic{
                checklist.path, pos,
                where + " puts {{" + r.name + "}}" + (fact ? " (a value the host reports)" : "") +
                    " into " + std::string(form) +
                    " unquoted: a value with a space, a quote or ';' changes the command; write "
                    "{{" +
                    r.name + " | sh}}",
                Severity::warning});
        }
    };
    auto command = [&](const std::optional<Command>& c, const std::string& where) {
        if (!c) {
            return;
        }
        if (c->is_shell()) {
            check(c->shell, c->pos, where, "a shell line");
        } else if (long i = shell_script_index(c->argv); i >= 0) {
            check(c->argv[static_cast<size_t>(i)], c->pos, where,
                  "the script of '" + c->argv[0] + " -c'");
        }
    };
    for (const auto& s : checklist.steps) {
        std::string where = "step '" + s.id + "'";
        if (s.kind == StepKind::command) {
            command(s.run, where + " 'run'");
        }
        command(s.unless, where + " 'unless'");
        command(s.verify, where + " 'verify'");
        command(s.undo, where + " 'undo'");
    }
    return out;
}

void validate_checklist(const Checklist& checklist, const std::vector<SourcePos>& needs_pos,
                        Diagnostics& diags) {
    Validator(checklist, needs_pos, diags).run();
}

}  // namespace shipshape::checklist
