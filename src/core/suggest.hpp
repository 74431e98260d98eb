// "Did you mean" for names people mistype: the closest candidate by edit distance. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shipshape {

// The Levenshtein distance between `a` and `b` (insertions, deletions, substitutions).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `name` within an edit distance of 2 (the first of equals), or "" when
// none is that close.
std::string closest_match(std::string_view name, const std::vector<std::string_view>& candidates);

// " (did you mean 'X'?)" for the closest match, or "" when none is close.
std::string did_you_mean(std::string_view name, const std::vector<std::string_view>& candidates);

}  // namespace shipshape
