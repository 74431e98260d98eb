// Semantic validation of a parsed checklist: unique step ids, dangling `needs`, dependency
// cycles (each named), unknown {{variables}}. Pure; adds to `diags` and never stops early.
#pragma once

#include <vector>

#include "checklist/model.hpp"
#include "core/diagnostic.hpp"

namespace shipshape::checklist {

// Warnings (Severity::warning) for each {{name}} substituted raw into a shell line: a `sh`
// command, or the script of an argv such as ["sh", "-c", "..."]. Raw is unsafe for params (a
// --set value) and facts (what a host reports); {{name | sh}} quotes the value. The builtins
// env, run and repo and the host variables come from the ops repo or from shipshape itself and
// are not warned about. In file order; an invalid checklist may give some or none.
std::vector<Diagnostic> shell_warnings(const Checklist& checklist);

// `needs_pos[i]` is the position of step i's `needs` key (its table when absent).
void validate_checklist(const Checklist& checklist, const std::vector<SourcePos>& needs_pos,
                        Diagnostics& diags);

}  // namespace shipshape::checklist
