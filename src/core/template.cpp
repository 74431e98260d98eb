#include "core/template.hpp"

#include "core/suggest.hpp"
#include "core/text.hpp"

namespace shipshape {

namespace {

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

Status check_name(std::string_view name, std::string_view what) {
    for (char c : name) {
        if (!is_name_char(c)) {
            return fail(Errc::invalid_argument, "invalid " + std::string(what) + " '" +
                                                    std::string(name) +
                                                    "': use letters, digits, '_', '-' and '.'");
        }
    }
    return {};
}

// Calls on_text(literal) and on_ref(ref) for each piece of `text`; stops at the first error.
template <typename OnText, typename OnRef>
Status scan(std::string_view text, OnText on_text, OnRef on_ref) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t open = text.find("{{", pos);
        if (open == std::string_view::npos) {
            on_text(text.substr(pos));
            break;
        }
        on_text(text.substr(pos, open - pos));
        size_t close = text.find("}}", open + 2);
        if (close == std::string_view::npos) {
            return fail(Errc::invalid_argument, "unclosed '{{' at offset " + std::to_string(open));
        }
        std::string_view inner = text.substr(open + 2, close - open - 2);
        std::string_view filter;
        bool has_filter = false;
        if (size_t bar = inner.find('|'); bar != std::string_view::npos) {
            has_filter = true;
            filter = trim_spaces(inner.substr(bar + 1));
            inner = inner.substr(0, bar);
        }
        std::string_view name = trim_spaces(inner);
        if (name.empty()) {
            return fail(Errc::invalid_argument, "empty '{{}}' at offset " + std::to_string(open));
        }
        if (auto st = check_name(name, "variable name"); !st) {
            return st;
        }
        if (has_filter) {
            std::vector<std::string_view> known(std::begin(k_template_filters),
                                                std::end(k_template_filters));
            if (std::find(known.begin(), known.end(), filter) == known.end()) {
                std::string ref =
                    "'{{" + std::string(text.substr(open + 2, close - open - 2)) + "}}'";
                if (filter.empty()) {
                    return fail(Errc::invalid_argument,
                                "missing filter after '|' in " + ref + "; the filters are: sh");
                }
                std::string hint = did_you_mean(filter, known);
                return fail(Errc::invalid_argument,
                            "unknown filter '" + std::string(filter) + "' in " + ref +
                                (hint.empty() ? "; the filters are: sh" : hint));
            }
        }
        if (auto st = on_ref(TemplateRef{std::string(name), std::string(filter), open}); !st) {
            return st;
        }
        pos = close + 2;
    }
    return {};
}

}  // namespace

long shell_script_index(const std::vector<std::string>& argv) {
    if (argv.empty()) {
        return -1;
    }
    std::string_view program = argv[0];
    if (size_t slash = program.rfind('/'); slash != std::string_view::npos) {
        program.remove_prefix(slash + 1);
    }
    static constexpr std::string_view k_shells[] = {"sh", "bash", "dash", "ash", "ksh", "zsh"};
    if (std::find(std::begin(k_shells), std::end(k_shells), program) == std::end(k_shells)) {
        return -1;
    }
    for (size_t i = 1; i < argv.size(); ++i) {
        std::string_view a = argv[i];
        if (a.size() < 2 || a[0] != '-' || a[1] == '-') {
            return -1;  // the first operand is a script file, not a string
        }
        if (a.find('c') != std::string_view::npos) {
            return i + 1 < argv.size() ? static_cast<long>(i + 1) : -1;
        }
    }
    return -1;
}

Result<std::vector<TemplateRef>> template_refs(std::string_view text) {
    std::vector<TemplateRef> refs;
    auto st = scan(
        text, [](std::string_view) {},
        [&](TemplateRef ref) -> Status {
            refs.push_back(std::move(ref));
            return {};
        });
    if (!st) {
        return fail(st.error());
    }
    return refs;
}

Result<std::vector<std::string>> template_names(std::string_view text) {
    auto refs = template_refs(text);
    if (!refs) {
        return fail(refs.error());
    }
    std::vector<std::string> names;
    names.reserve(refs->size());
    for (auto& r : *refs) {
        names.push_back(std::move(r.name));
    }
    return names;
}

Result<std::string> render_template(std::string_view text, const Variables& vars) {
    std::string out;
    out.reserve(text.size());
    auto st = scan(
        text, [&](std::string_view literal) { out.append(literal); },
        [&](const TemplateRef& ref) -> Status {
            auto it = vars.find(ref.name);
            if (it == vars.end()) {
                return fail(Errc::invalid_argument, "unknown variable '" + ref.name + "'");
            }
            if (ref.filter == "sh") {
                if (it->second.find('\0') != std::string::npos) {
                    return fail(Errc::invalid_argument,
                                "the value of '" + ref.name +
                                    "' contains a NUL byte, which no shell word can hold");
                }
                out.append(shell_quote(it->second));
            } else {
                out.append(it->second);
            }
            return {};
        });
    if (!st) {
        return fail(st.error());
    }
    return out;
}

}  // namespace shipshape
