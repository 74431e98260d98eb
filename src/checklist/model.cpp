#include "checklist/model.hpp"

#include <functional>
#include <unordered_map>

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

struct StepIndex::Table {
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    const Step* data = nullptr;  // the vector the table was built from, to notice a new one
    size_t size = 0;
    std::unordered_map<std::string, size_t, Hash, std::equal_to<>> where;
};

StepIndex::StepIndex() = default;
StepIndex::StepIndex(const StepIndex& /*other*/) {}
StepIndex& StepIndex::operator=(const StepIndex& other) {
    if (this != &other) {
        std::lock_guard guard(m_lock);
        m_table.reset();  // the steps were assigned along with it
    }
    return *this;
}
StepIndex::~StepIndex() = default;

size_t StepIndex::find(const std::vector<Step>& steps, std::string_view id) const {
    std::lock_guard guard(m_lock);
    auto rebuild = [&] {
        auto table = std::make_unique<Table>();
        table->data = steps.data();
        table->size = steps.size();
        table->where.reserve(steps.size());
        for (size_t i = 0; i < steps.size(); ++i) {
            table->where.emplace(steps[i].id, i);  // the first of duplicate ids, as the scan
        }
        m_table = std::move(table);
    };
    if (!m_table || m_table->data != steps.data() || m_table->size != steps.size()) {
        rebuild();
    }
    if (auto it = m_table->where.find(id); it != m_table->where.end()) {
        if (steps[it->second].id == id) {
            return it->second;
        }
    }
    // A miss, or a hit on a step renamed since: only a scan is sure. A table that was wrong is
    // rebuilt, so the next lookups are O(1) again.
    for (size_t i = 0; i < steps.size(); ++i) {
        if (steps[i].id == id) {
            rebuild();
            return i;
        }
    }
    return steps.size();
}

const Step* Checklist::find_step(std::string_view id) const {
    const size_t i = step_index.find(steps, id);
    return i < steps.size() ? &steps[i] : nullptr;
}

const Step* Checklist::find_step_or_copy(std::string_view id) const {
    // A copy's id has an '@', which a step's id cannot: look for the copy first, so that finding
    // a copy is not a miss (a scan) in find_step.
    if (const size_t at = id.find('@'); at != std::string_view::npos) {
        if (const Step* parent = find_step(id.substr(0, at))) {
            for (const auto& copy : parent->per_host) {
                if (copy.id == id) {
                    return &copy;
                }
            }
        }
    }
    return find_step(id);
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
