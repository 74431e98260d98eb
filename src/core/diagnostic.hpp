// Diagnostics: positioned messages about an ops-repo file. Loaders collect every problem they
// find (not just the first) into a Diagnostics list so a user can fix them all in one pass.
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"

namespace shipshape {

struct SourcePos {
    int line = 0;  // 1-based; 0 when unknown
    int column = 0;
};

// A warning points at something that works but is likely wrong or unsafe (an unquoted
// parameter in a shell line); it never makes a definition invalid.
enum class Severity { error, warning };

struct Diagnostic {
    std::string file;
    SourcePos pos;
    std::string message;
    Severity severity = Severity::error;
};

// Formats "file:line:col: message" (or "file: message" when the position is unknown); a
// warning reads "file:line:col: warning: message".
std::string format_diagnostic(const Diagnostic& d);

class Diagnostics {
  public:
    void add(std::string file, SourcePos pos, std::string message) {
        m_items.push_back(Diagnostic{std::move(file), pos, std::move(message)});
    }
    bool empty() const { return m_items.empty(); }
    size_t size() const { return m_items.size(); }
    const std::vector<Diagnostic>& items() const { return m_items; }

    // Returns one Errc::invalid_definition error whose message lists every diagnostic, one per
    // line, in the order they were found.
    Error to_error() const;

  private:
    std::vector<Diagnostic> m_items;
};

}  // namespace shipshape
