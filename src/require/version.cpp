#include "require/version.hpp"

namespace shipshape::require {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool valid_version(std::string_view v) {
    if (v.empty()) return false;
    for (char c : v) {
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '.' || c == '+' || c == '-' || c == '~' || c == ':';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

bool Constraint::satisfied_by(std::string_view found) const {
    const int c = compare_versions(found, version);
    switch (op) {
        case Op::lt: return c < 0;
        case Op::le: return c <= 0;
        case Op::eq: return c == 0;
        case Op::ne: return c != 0;
        case Op::ge: return c >= 0;
        case Op::gt: return c > 0;
    }
    return false;
}

std::string Constraint::text() const {
    static constexpr const char* k_ops[] = {"<", "<=", "=", "!=", ">=", ">"};
    return std::string(k_ops[static_cast<int>(op)]) + " " + version;
}

Result<Constraint> parse_constraint(std::string_view text) {
    std::string_view s = trim(text);
    struct Spelling {
        std::string_view text;
        Op op;
    };
    // Longest spellings first so that ">=" is not read as ">".
    static constexpr Spelling k_spellings[] = {
        {"<<", Op::lt}, {">>", Op::gt}, {"<=", Op::le}, {">=", Op::ge}, {"!=", Op::ne},
        {"==", Op::eq}, {"<", Op::lt},  {">", Op::gt},  {"=", Op::eq},
    };
    Constraint c;
    c.op = Op::eq;
    for (const auto& sp : k_spellings) {
        if (s.substr(0, sp.text.size()) == sp.text) {
            c.op = sp.op;
            s.remove_prefix(sp.text.size());
            break;
        }
    }
    s = trim(s);
    if (!valid_version(s)) {
        return fail(Errc::invalid_argument,
                    "invalid version constraint '" + std::string(text) +
                        "': expected an operator (<, <=, =, !=, >=, >) and a Debian version, "
                        "e.g. \">= 3.0.9\" or \">= 1:2.4~rc1-2\"");
    }
    c.version = std::string(s);
    return c;
}

}  // namespace shipshape::require
