// Line-based unified diff (Myers' O(ND) algorithm), as shown by `shipshape plan` for a changed
// file. Pure.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
namespace shipshape::state {
struct DiffOptions {
    int context = 3;  // lines of context around each change
    // Give up on a minimal diff past this many edits: one hunk replacing everything.
    std::size_t max_cost = 20000;
};
// Returns "--- <label_before>\n+++ <label_after>\n@@ -a,b +c,d @@\n..." or "" when the texts are
// equal. A last line without a newline gets "\ No newline at end of file" after it, like GNU diff.
std::string unified_diff(std::string_view before, std::string_view after,
                         std::string_view label_before, std::string_view label_after,
                         const DiffOptions& options = {});

// The work one diff took, so tests can bound it by counting rather than timing (a quadratic
// search shows here): line comparisons made by the shortest-edit search.
struct DiffWork {
    std::size_t comparisons = 0;
};
std::string unified_diff(std::string_view before, std::string_view after,
                         std::string_view label_before, std::string_view label_after,
                         const DiffOptions& options, DiffWork& work);
}  // namespace shipshape::state
