// {{name}} substitution in checklist and state strings. Names are looked up in a flat map;
// whitespace inside the braces is ignored. A reference may name one filter after a '|':
// {{version | sh}} substitutes the value shell-quoted as one word (core/text.hpp shell_quote),
// for values that end up inside a shell line. Pure functions, no I/O.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape {

using Variables = std::map<std::string, std::string, std::less<>>;

// The filters a reference may name: "sh" (quote for a POSIX shell).
inline constexpr std::string_view k_template_filters[] = {"sh"};

// One {{name}} or {{name | filter}} in a template.
struct TemplateRef {
    std::string name;
    std::string filter;  // "" when none
    size_t offset = 0;   // of the "{{" in the text
};

// Returns the references in `text`, in order of appearance (duplicates kept), or
// Errc::invalid_argument for an unclosed "{{", an empty/malformed name, or an unknown filter
// (with a did-you-mean).
[[nodiscard]] Result<std::vector<TemplateRef>> template_refs(std::string_view text);

// Returns the names referenced by `text`, in order of appearance (duplicates kept), or the
// errors of template_refs.
[[nodiscard]] Result<std::vector<std::string>> template_names(std::string_view text);

// Returns `text` with every {{name}} replaced from `vars` (filtered when the reference names a
// filter), or Errc::invalid_argument naming the first unknown variable or syntax problem. A
// value holding a NUL byte cannot be shell-quoted: {{name | sh}} of one is an error.
[[nodiscard]] Result<std::string> render_template(std::string_view text, const Variables& vars);

// The index of the script in an argv that hands a string to a shell: ["sh", "-c", SCRIPT, ...]
// and the like (sh, bash, dash, ash, ksh, zsh, by name or path, options such as "-ec" before
// SCRIPT), or -1 when `argv` is no such command. A template in that script is a shell line
// although it is written as an argv word.
long shell_script_index(const std::vector<std::string>& argv);

// The references in `shell_line` that are substituted raw into a shell line: no `| sh` filter,
// and `trusted(name)` false. A value with a space, a quote or a ';' in such a reference changes
// the command. Unparsable templates give none (validation reports them).
template <typename Trusted>
std::vector<TemplateRef> unquoted_shell_refs(std::string_view shell_line, Trusted trusted) {
    std::vector<TemplateRef> out;
    auto refs = template_refs(shell_line);
    for (auto& r : refs ? *refs : std::vector<TemplateRef>{}) {
        if (r.filter != "sh" && !trusted(r.name)) {
            out.push_back(std::move(r));
        }
    }
    return out;
}

// Which parameters to blame for a rendered value that breaks a rule: the names `text` references
// for which rendering with that one value replaced by a plain "x" gives a text that `obeys`
// accepts (each once, in order), or every name `text` references when no single one does.
// Empty when `text` has no references.
template <typename Pred>
std::vector<std::string> template_blame(std::string_view text, const Variables& vars, Pred obeys) {
    std::vector<std::string> all;
    std::vector<std::string> guilty;
    auto names = template_names(text);
    for (const auto& n : names ? *names : std::vector<std::string>{}) {
        if (std::find(all.begin(), all.end(), n) != all.end()) {
            continue;
        }
        all.push_back(n);
        Variables neutral = vars;
        neutral[n] = "x";
        auto rendered = render_template(text, neutral);
        if (rendered && obeys(*rendered)) {
            guilty.push_back(n);
        }
    }
    return guilty.empty() ? all : guilty;
}

}  // namespace shipshape
