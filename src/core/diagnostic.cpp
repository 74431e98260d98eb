#include "core/diagnostic.hpp"

#include <algorithm>

namespace shipshape {

std::string format_diagnostic(const Diagnostic& d) {
    std::string message = d.severity == Severity::warning ? "warning: " + d.message : d.message;
    if (d.pos.line <= 0) {
        return d.file + ": " + message;
    }
    return d.file + ":" + std::to_string(d.pos.line) + ":" + std::to_string(d.pos.column) + ": " +
           message;
}

Error Diagnostics::to_error() const {
    // File order reads best; equal positions keep the order they were found in.
    std::vector<Diagnostic> sorted = m_items;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
    });
    std::string text;
    for (const auto& d : sorted) {
        if (!text.empty()) {
            text += '\n';
        }
        text += format_diagnostic(d);
    }
    return Error(Errc::invalid_definition, text);
}

}  // namespace shipshape
