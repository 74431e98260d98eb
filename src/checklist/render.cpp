// Binding params and rendering templates: the step from a validated checklist to the exact
// commands a run executes.
#include <functional>
#include <map>
#include <queue>
#include <set>

#include "checklist/load.hpp"

namespace shipshape::checklist {

Result<Variables> bind_params(const Checklist& checklist,
                              const std::vector<std::pair<std::string, std::string>>& values,
                              const Variables& builtins) {
    Variables vars = builtins;
    std::vector<std::string> problems;
    std::set<std::string> given;
    for (const auto& [k, v] : values) {
        if (v.find('\0') != std::string::npos) {
            // --set cannot carry a NUL, but params may come from a file, JSON or the store.
            problems.push_back("param '" + k +
                               "': the value contains a NUL byte, which no command, path or "
                               "environment variable can hold");
            continue;
        }
        if (!checklist.find_param(k)) {
            std::string known;
            for (const auto& p : checklist.params) {
                known += (known.empty() ? "" : ", ") + p.name;
            }
            problems.push_back("unknown param '" + k + "' (checklist '" + checklist.name +
                               "' declares: " + (known.empty() ? "none" : known) + ")");
            continue;
        }
        vars[k] = v;
        given.insert(k);
    }
    for (const auto& p : checklist.params) {
        if (given.count(p.name)) {
            continue;
        }
        if (p.default_value) {
            vars[p.name] = *p.default_value;
        } else if (p.required) {
            problems.push_back("missing required param '" + p.name + "'" +
                               (p.description.empty() ? "" : " (" + p.description + ")") +
                               ": pass --set " + p.name + "=VALUE");
        } else {
            vars[p.name] = "";
        }
    }
    if (!problems.empty()) {
        std::string text;
        for (const auto& p : problems) {
            text += (text.empty() ? "" : "\n") + p;
        }
        return fail(Errc::invalid_argument, text);
    }
    return vars;
}

namespace {

// Renders `s` in place. A rendered value must hold no NUL, as the literal value the loader
// checked: a parameter or a fact must not cut an argv word, a shell line or a path short.
Status render_into(std::string& s, const Variables& vars, const std::string& where) {
    auto r = render_template(s, vars);
    if (!r) {
        return fail(r.error().context(where));
    }
    if (r->find('\0') != std::string::npos) {
        auto guilty = template_blame(
            s, vars, [](const std::string& v) { return v.find('\0') == std::string::npos; });
        std::string names;
        for (const auto& g : guilty) {
            names += (names.empty() ? "'" : ", '") + g + "'";
        }
        return fail(Errc::invalid_argument,
                    where + ": the rendered value contains a NUL byte; fix the value of " + names);
    }
    s = std::move(*r);
    return {};
}

Status render_command(std::optional<Command>& c, const Variables& vars, const std::string& where) {
    if (!c) {
        return {};
    }
    if (c->is_shell()) {
        if (auto st = render_into(c->shell, vars, where); !st) {
            return st;
        }
    }
    for (auto& a : c->argv) {
        if (auto st = render_into(a, vars, where); !st) {
            return st;
        }
    }
    return {};
}

}  // namespace

namespace {

Status render_step(Step& s, const Variables& vars, const std::string& where);

// Variables mapping each {{host...}} and {{facts...}} name a step uses to itself, so that the step
// can be rendered for display before it is rendered per host.
Variables host_placeholders(const Step& s) {
    Variables out;
    auto add = [&](const std::string& text) {
        if (auto names = template_names(text)) {
            for (const auto& n : *names) {
                if (n == "host" || n.rfind("host.", 0) == 0 || n.rfind("facts.", 0) == 0) {
                    out[n] = "{{" + n + "}}";
                }
            }
        }
    };
    for (const auto* c : {&s.unless, &s.verify, &s.undo}) {
        if (*c) {
            add(c->value().shell);
            for (const auto& a : c->value().argv) {
                add(a);
            }
        }
    }
    add(s.run.shell);
    for (const auto& a : s.run.argv) {
        add(a);
    }
    for (const auto& kv : s.env) {
        add(kv.second);
    }
    add(s.cwd);
    return out;
}

}  // namespace

Result<Checklist> render_checklist(const Checklist& checklist, const Variables& vars,
                                   const HostResolver& hosts) {
    Checklist out = checklist;
    for (auto& s : out.steps) {
        std::string where = "step '" + s.id + "'";
        if (s.on_hosts()) {
            if (!hosts) {
                return fail(Errc::invalid_argument,
                            where + " runs on hosts, and no inventory is at hand");
            }
            auto targets = hosts(s.on);
            if (!targets) {
                return fail(targets.error().context(where + " 'on'"));
            }
            // Collected apart and moved in at the end: a copy of `s` made while its per_host
            // grew carried every earlier copy (2^N steps for N hosts).
            std::vector<Step> per_host;
            per_host.reserve(targets->size());
            s.per_host.clear();
            for (const auto& h : *targets) {
                // A host's copy sees that host's facts only, never this machine's.
                Variables hv;
                for (const auto& [k, v] : vars) {
                    if (k.rfind("facts.", 0) != 0) {
                        hv.emplace(k, v);
                    }
                }
                for (const auto& [k, v] : h.vars) {
                    hv[k] = v;
                }
                Step copy = s;
                copy.id = s.id + "@" + h.name;
                copy.host = h.name;
                copy.on.clear();
                if (auto st = render_step(copy, hv, where + " on host " + h.name); !st) {
                    return fail(st.error());
                }
                per_host.push_back(std::move(copy));
            }
            s.per_host = std::move(per_host);
            Variables shown = vars;
            for (const auto& [k, v] : host_placeholders(s)) {
                shown[k] = v;
            }
            if (auto st = render_step(s, shown, where); !st) {
                return fail(st.error());
            }
            continue;
        }
        if (auto st = render_step(s, vars, where); !st) {
            return fail(st.error());
        }
    }
    return out;
}

namespace {

Status render_step(Step& s, const Variables& vars, const std::string& where) {
    std::optional<Command> run = s.run;
    if (auto st = render_command(run, vars, where); !st) {
        return fail(st.error());
    }
    s.run = *run;
    if (auto st = render_command(s.unless, vars, where); !st) {
        return fail(st.error());
    }
    if (auto st = render_command(s.verify, vars, where); !st) {
        return fail(st.error());
    }
    if (auto st = render_command(s.undo, vars, where); !st) {
        return fail(st.error());
    }
    for (auto& kv : s.env) {
        if (auto st = render_into(kv.second, vars, where); !st) {
            return fail(st.error());
        }
    }
    if (auto st = render_into(s.cwd, vars, where); !st) {
        return fail(st.error());
    }
    if (auto st = render_into(s.manual, vars, where); !st) {
        return fail(st.error());
    }
    return {};
}

}  // namespace

std::vector<std::string> topological_order(const Checklist& checklist) {
    // Kahn's algorithm; among ready steps the one earliest in the file goes first.
    const size_t n = checklist.steps.size();
    std::map<std::string_view, size_t> index;
    for (size_t i = 0; i < n; ++i) {
        index.emplace(checklist.steps[i].id, i);
    }
    std::vector<size_t> indegree(n, 0);
    std::vector<std::vector<size_t>> dependents(n);
    for (size_t i = 0; i < n; ++i) {
        for (const auto& need : checklist.steps[i].needs) {
            auto it = index.find(need);
            if (it == index.end()) {
                continue;
            }
            dependents[it->second].push_back(i);
            ++indegree[i];
        }
    }
    std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
    for (size_t i = 0; i < n; ++i) {
        if (indegree[i] == 0) {
            ready.push(i);
        }
    }
    std::vector<std::string> order;
    order.reserve(n);
    while (!ready.empty()) {
        size_t v = ready.top();
        ready.pop();
        order.push_back(checklist.steps[v].id);
        for (size_t d : dependents[v]) {
            if (--indegree[d] == 0) {
                ready.push(d);
            }
        }
    }
    return order;  // shorter than n only for a cycle, which validation rejects first
}

}  // namespace shipshape::checklist
