#include "require/version.hpp"

namespace shipshape::require {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool valid_version(std::string_view v) {
    if (v.empty()) {
        return false;
    }
    for (char c : v) {
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '.' || c == '+' || c == '-' || c == '~' || c == ':';
        if (!ok) {
            return false;
        }
    }
    return true;
}

// Debian's character order inside a non-digit run: '~' before the end, the end before
// letters, letters before everything else.
int order(std::string_view s, size_t i) {
    if (i >= s.size()) {
        return 0;
    }
    const char c = s[i];
    if (c >= '0' && c <= '9') {
        return 0;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return c;
    }
    if (c == '~') {
        return -1;
    }
    return c + 256;
}

bool digit_at(std::string_view s, size_t i) {
    return i < s.size() && s[i] >= '0' && s[i] <= '9';
}

// Compares two upstream versions or two revisions: alternating non-digit and digit runs.
int compare_part(std::string_view a, std::string_view b) {
    size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
        while ((i < a.size() && !digit_at(a, i)) || (j < b.size() && !digit_at(b, j))) {
            const int ac = order(a, i);
            const int bc = order(b, j);
            if (ac != bc) {
                return ac - bc;
            }
            ++i;
            ++j;
        }
        while (i < a.size() && a[i] == '0') {
            ++i;
        }
        while (j < b.size() && b[j] == '0') {
            ++j;
        }
        int first_diff = 0;
        while (digit_at(a, i) && digit_at(b, j)) {
            if (first_diff == 0) {
                first_diff = a[i] - b[j];
            }
            ++i;
            ++j;
        }
        if (digit_at(a, i)) {
            return 1;
        }
        if (digit_at(b, j)) {
            return -1;
        }
        if (first_diff != 0) {
            return first_diff;
        }
    }
    return 0;
}

struct Parts {
    std::string_view epoch;  // digits, leading zeros stripped ("" = 0)
    std::string_view upstream;
    std::string_view revision;
};

Parts split(std::string_view v) {
    Parts p;
    size_t colon = v.find(':');
    if (colon != std::string_view::npos) {
        p.epoch = v.substr(0, colon);
        v.remove_prefix(colon + 1);
    }
    while (!p.epoch.empty() && p.epoch.front() == '0') {
        p.epoch.remove_prefix(1);
    }
    size_t dash = v.rfind('-');
    if (dash != std::string_view::npos) {
        p.revision = v.substr(dash + 1);
        v = v.substr(0, dash);
    }
    p.upstream = v;
    return p;
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
    const Parts pa = split(a);
    const Parts pb = split(b);
    // Epochs are numbers: the longer one (without leading zeros) is larger.
    if (pa.epoch.size() != pb.epoch.size()) {
        return pa.epoch.size() < pb.epoch.size() ? -1 : 1;
    }
    if (int c = pa.epoch.compare(pb.epoch); c != 0) {
        return c;
    }
    if (int c = compare_part(pa.upstream, pb.upstream); c != 0) {
        return c;
    }
    return compare_part(pa.revision, pb.revision);
}

bool Constraint::satisfied_by(std::string_view found) const {
    const int c = compare_versions(found, version);
    switch (op) {
        case Op::lt:
            return c < 0;
        case Op::le:
            return c <= 0;
        case Op::eq:
            return c == 0;
        case Op::ne:
            return c != 0;
        case Op::ge:
            return c >= 0;
        case Op::gt:
            return c > 0;
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
