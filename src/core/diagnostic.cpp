#include "core/diagnostic.hpp"

namespace shipshape {

std::string format_diagnostic(const Diagnostic& d) {
    if (d.pos.line <= 0) {
        return d.file + ": " + d.message;
    }
    return d.file + ":" + std::to_string(d.pos.line) + ":" + std::to_string(d.pos.column) + ": " +
           d.message;
}

Error Diagnostics::to_error() const {
    std::string text;
    for (const auto& d : m_items) {
        if (!text.empty()) {
            text += '\n';
        }
        text += format_diagnostic(d);
    }
    return Error(Errc::invalid_definition, text);
}

}  // namespace shipshape
