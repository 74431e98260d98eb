// The pure rules of package specs: names, versions, architectures, relations, destinations.
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/text.hpp"
#include "package/spec.hpp"

namespace shipshape::package {

namespace {

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_alnum(char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string_view skip_blanks(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) {
        ++i;
    }
    return s.substr(i);
}

// One alternative: "name[:arch] [(op version)]". Returns "" or why not.
std::string alternative_rule(std::string_view alt, bool provides) {
    alt = trim(alt);
    if (alt.empty()) {
        return "has an empty alternative";
    }
    size_t i = 0;
    while (i < alt.size() && alt[i] != ' ' && alt[i] != '\t' && alt[i] != '(' && alt[i] != ':' &&
           alt[i] != '[' && alt[i] != '<') {
        ++i;
    }
    std::string_view name = alt.substr(0, i);
    if (auto why = package_name_rule(name); !why.empty()) {
        return "names the package '" + std::string(name) + "', which " + why;
    }
    std::string_view rest = alt.substr(i);
    if (!rest.empty() && rest[0] == ':') {
        size_t j = 1;
        while (j < rest.size() && (is_lower_alnum(rest[j]) || rest[j] == '-')) {
            ++j;
        }
        if (j == 1) {
            return "has an empty architecture qualifier after '" + std::string(name) + ":'";
        }
        rest = rest.substr(j);
    }
    rest = skip_blanks(rest);
    if (!rest.empty() && rest[0] == '(') {
        size_t close = rest.find(')');
        if (close == std::string_view::npos) {
            return "has an unclosed '(' after '" + std::string(name) + "'";
        }
        std::string_view inner = trim(rest.substr(1, close - 1));
        std::string_view op;
        for (std::string_view o : {"<<", "<=", ">=", ">>", "="}) {
            if (inner.substr(0, o.size()) == o) {
                op = o;
                break;
            }
        }
        if (op.empty()) {
            return "needs an operator <<, <=, =, >= or >> in '(" + std::string(inner) + ")'";
        }
        if (provides && op != "=") {
            return "may only use '=' in Provides, found '" + std::string(op) + "'";
        }
        std::string_view version = trim(inner.substr(op.size()));
        if (auto why = version_rule(version); !why.empty()) {
            return "has the version '" + std::string(version) + "', which " + why;
        }
        rest = skip_blanks(rest.substr(close + 1));
    }
    if (!rest.empty()) {
        if (rest[0] == '[' || rest[0] == '<') {
            return "has an architecture or profile restriction '" + std::string(rest) +
                   "', which only source packages may have";
        }
        return "has unexpected text '" + std::string(rest) + "' after '" + std::string(name) + "'";
    }
    return {};
}

}  // namespace

std::string package_name_rule(std::string_view name) {
    if (name.size() < 2) {
        return "must have at least two characters";
    }
    if (!is_lower_alnum(name[0])) {
        return "must start with a lower-case letter or a digit";
    }
    for (char c : name) {
        if (!is_lower_alnum(c) && c != '+' && c != '-' && c != '.') {
            return "may only hold lower-case letters, digits, '+', '-' and '.'";
        }
    }
    return {};
}

std::string version_rule(std::string_view version) {
    if (version.empty()) {
        return "must not be empty";
    }
    std::string_view upstream = version;
    size_t colon = version.find(':');
    if (colon != std::string_view::npos) {
        std::string_view epoch = version.substr(0, colon);
        if (epoch.empty()) {
            return "has an empty epoch before ':'";
        }
        for (char c : epoch) {
            if (!is_digit(c)) {
                return "has an epoch that is not a number";
            }
        }
        upstream = version.substr(colon + 1);
    }
    size_t dash = upstream.rfind('-');
    if (dash != std::string_view::npos) {
        std::string_view revision = upstream.substr(dash + 1);
        if (revision.empty()) {
            return "has an empty revision after '-'";
        }
        for (char c : revision) {
            if (!is_alnum(c) && c != '+' && c != '.' && c != '~') {
                return "has a revision with '" + std::string(1, c) +
                       "' (allowed: letters, digits, '+', '.', '~')";
            }
        }
        upstream = upstream.substr(0, dash);
    }
    if (upstream.empty() || !is_digit(upstream[0])) {
        return "must start with a digit (after any epoch)";
    }
    for (char c : upstream) {
        bool ok = is_alnum(c) || c == '.' || c == '+' || c == '~' || c == '-' ||
                  (c == ':' && colon != std::string_view::npos);
        if (!ok) {
            return "has '" + std::string(1, c) +
                   "' in its upstream part (allowed: letters, digits, '.', '+', '~', '-', ':')";
        }
    }
    return {};
}

std::string architecture_rule(std::string_view arch) {
    if (arch.empty()) {
        return "must not be empty";
    }
    if (arch == "any") {
        return "must be a real architecture such as \"amd64\" or \"all\", not \"any\"";
    }
    for (char c : arch) {
        if (!is_lower_alnum(c) && c != '-') {
            return "may only hold lower-case letters, digits and '-'";
        }
    }
    return {};
}

std::string relation_rule(std::string_view relation, bool provides) {
    if (trim(relation).empty()) {
        return "must not be empty";
    }
    if (provides && relation.find('|') != std::string_view::npos) {
        return "may not have alternatives ('|') in Provides";
    }
    size_t start = 0;
    while (true) {
        size_t bar = relation.find('|', start);
        std::string_view alt = relation.substr(
            start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
        if (auto why = alternative_rule(alt, provides); !why.empty()) {
            return why;
        }
        if (bar == std::string_view::npos) {
            return {};
        }
        start = bar + 1;
    }
}

std::optional<std::string> normalise_destination(std::string_view destination, std::string& why) {
    if (!destination.empty() && destination.front() == '/') {
        why = "must be relative to the package root, e.g. \"usr/bin/booking\"";
        return std::nullopt;
    }
    if (auto c = find_control_character(destination, LineBreaks::rejected); !c.empty()) {
        why = "has a bad character: " + c;
        return std::nullopt;
    }
    std::string out;
    size_t start = 0;
    while (start <= destination.size()) {
        size_t slash = destination.find('/', start);
        size_t end = slash == std::string_view::npos ? destination.size() : slash;
        std::string_view part = destination.substr(start, end - start);
        if (part == "..") {
            why = "must not have '..' parts";
            return std::nullopt;
        }
        if (!part.empty() && part != ".") {
            out += (out.empty() ? "" : "/") + std::string(part);
        }
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
    return out;
}

std::optional<std::string> resolve_source(const std::string& dir, std::string_view source,
                                          std::string& why) {
    if (source.empty()) {
        why = "must not be empty";
        return std::nullopt;
    }
    if (source.front() == '/') {
        why = "must be relative to the spec's directory";
        return std::nullopt;
    }
    std::string lexical_why;
    if (!normalise_destination(source, lexical_why)) {
        why = "escapes the spec's directory ('..')";
        return std::nullopt;
    }
    std::string joined = dir + "/" + std::string(source);
    char* real = ::realpath(joined.c_str(), nullptr);
    if (real == nullptr) {
        int err = errno;
        why = err == ENOENT || err == ENOTDIR
                  ? "does not exist"
                  : std::string("cannot be resolved: ") + std::strerror(err);
        return std::nullopt;
    }
    std::string resolved(real);
    std::free(real);
    if (resolved != dir && resolved.rfind(dir + "/", 0) != 0 && dir != "/") {
        why = "escapes the spec's directory (it resolves to '" + resolved + "')";
        return std::nullopt;
    }
    return resolved;
}

std::string version_without_epoch(std::string_view version) {
    size_t colon = version.find(':');
    return std::string(colon == std::string_view::npos ? version : version.substr(colon + 1));
}

}  // namespace shipshape::package
