// Semantic validation of a parsed checklist: unique step ids, dangling `needs`, dependency
// cycles (each named), unknown {{variables}}. Pure; adds to `diags` and never stops early.
#pragma once

#include <vector>

#include "checklist/model.hpp"
#include "core/diagnostic.hpp"

namespace shipshape::checklist {

// `needs_pos[i]` is the position of step i's `needs` key (its table when absent).
void validate_checklist(const Checklist& checklist, const std::vector<SourcePos>& needs_pos,
                        Diagnostics& diags);

}  // namespace shipshape::checklist
