#include "core/template.hpp"

namespace shipshape {

namespace {

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// Calls on_text(literal) and on_name(name) for each piece of `text`; stops at the first error.
template <typename OnText, typename OnName>
Status scan(std::string_view text, OnText on_text, OnName on_name) {
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
        std::string_view name = trim(text.substr(open + 2, close - open - 2));
        if (name.empty()) {
            return fail(Errc::invalid_argument, "empty '{{}}' at offset " + std::to_string(open));
        }
        for (char c : name) {
            if (!is_name_char(c)) {
                return fail(Errc::invalid_argument, "invalid variable name '" + std::string(name) +
                                                        "': use letters, digits, '_', '-' and '.'");
            }
        }
        if (auto st = on_name(name); !st) {
            return st;
        }
        pos = close + 2;
    }
    return {};
}

}  // namespace

Result<std::vector<std::string>> template_names(std::string_view text) {
    std::vector<std::string> names;
    auto st = scan(
        text, [](std::string_view) {},
        [&](std::string_view name) -> Status {
            names.emplace_back(name);
            return {};
        });
    if (!st) {
        return fail(st.error());
    }
    return names;
}

Result<std::string> render_template(std::string_view text, const Variables& vars) {
    std::string out;
    out.reserve(text.size());
    auto st = scan(
        text, [&](std::string_view literal) { out.append(literal); },
        [&](std::string_view name) -> Status {
            auto it = vars.find(name);
            if (it == vars.end()) {
                return fail(Errc::invalid_argument, "unknown variable '" + std::string(name) + "'");
            }
            out.append(it->second);
            return {};
        });
    if (!st) {
        return fail(st.error());
    }
    return out;
}

}  // namespace shipshape
