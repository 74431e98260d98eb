// The pure helpers of the JUnit reader, shared by junit.cpp and the pugixml adapter
// (junit_pugixml.cpp). Internal to the ci module.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/diagnostic.hpp"

namespace shipshape::ci::detail {

// The 1-based line and column of byte `offset` of `text` (clamped to its end); columns count
// UTF-8 characters, as editors show them.
SourcePos position_of(std::string_view text, size_t offset);

// `s` without surrounding blanks, cut to at most `max` bytes (at a UTF-8 character boundary,
// ending in a note of how much was cut) when longer.
std::string bounded(std::string_view s, size_t max);

// The first non-blank line of `s`, trimmed.
std::string_view first_line(std::string_view s);

// A time attribute ("0.013", "1,204.5"); 0 when absent, malformed, negative or not finite.
double parse_seconds(std::string_view s);

}  // namespace shipshape::ci::detail
