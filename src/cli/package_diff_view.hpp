// The text of `shipshape package diff`: a short summary, then the sections in the order an
// operator reads them (dependencies, requirements, maintainer scripts, conffiles, files, control
// fields, size). Pure: returns the text, prints nothing.
//
// Long lists are folded so that a 20,000-entry upgrade reads in a few hundred lines, while every
// added or removed path stays named: lists longer than k_fold_lines are grouped by directory
// ("+ /usr/share/booking/static/ (1,200 entries, 3.4 MiB)"), and long diffs are cut after
// k_diff_lines lines, each fold saying how much it hides. `full` shows everything.
#pragma once

#include <cstddef>
#include <string>

#include "package/diff.hpp"

namespace shipshape::cli {

inline constexpr size_t k_fold_lines = 30;
inline constexpr size_t k_diff_lines = 120;

struct PackageDiffView {
    std::string label_a;  // the sides as the user named them
    std::string label_b;
    bool stat = false;   // the summary only
    bool full = false;   // no folding
    bool color = false;  // ANSI colours (a terminal)
};

std::string render_package_diff(const package::PackageDiff& diff, const PackageDiffView& view);

// "1,234".
std::string grouped_number(uint64_t n);

}  // namespace shipshape::cli
