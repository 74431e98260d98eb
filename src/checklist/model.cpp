#include "checklist/model.hpp"

namespace shipshape::checklist {

std::vector<std::string> Command::to_argv() const {
    if (is_shell()) {
        return {"/bin/sh", "-c", shell};
    }
    return argv;
}

namespace {

bool needs_quotes(const std::string& s) {
    if (s.empty()) {
        return true;
    }
    for (char c : s) {
        if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\\' || c == '$' || c == '`' ||
            c == ';' || c == '&' || c == '|' || c == '<' || c == '>' || c == '*' || c == '?' ||
            c == '(' || c == ')' || c == '\n') {
            return true;
        }
    }
    return false;
}

}  // namespace

std::string Command::display() const {
    if (is_shell()) {
        std::string out = "sh: ";
        for (char c : shell) {
            if (c == '\n') {
                out += "\\n";
            } else {
                out += c;
            }
        }
        return out;
    }
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) {
            out += ' ';
        }
        if (needs_quotes(a)) {
            out += '\'';
            for (char c : a) {
                if (c == '\'') {
                    out += "'\\''";
                } else {
                    out += c;
                }
            }
            out += '\'';
        } else {
            out += a;
        }
    }
    return out;
}

const Step* Checklist::find_step(std::string_view id) const {
    for (const auto& s : steps) {
        if (s.id == id) {
            return &s;
        }
    }
    return nullptr;
}

const Step* Checklist::find_step_or_copy(std::string_view id) const {
    if (const Step* s = find_step(id)) {
        return s;
    }
    const size_t at = id.find('@');
    if (at == std::string_view::npos) {
        return nullptr;
    }
    const Step* parent = find_step(id.substr(0, at));
    if (!parent) {
        return nullptr;
    }
    for (const auto& copy : parent->per_host) {
        if (copy.id == id) {
            return &copy;
        }
    }
    return nullptr;
}

const Param* Checklist::find_param(std::string_view param_name) const {
    for (const auto& p : params) {
        if (p.name == param_name) {
            return &p;
        }
    }
    return nullptr;
}

}  // namespace shipshape::checklist
