// Durations as written in ops-repo files: "500ms", "30s", "2m", "1h30m", "1d". Pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace shipshape {

using Millis = std::chrono::milliseconds;

// Parses a sequence of <integer><unit> pairs (units ms, s, m, h, d), e.g. "1h30m".
// Returns the total, or Errc::invalid_argument with a message that says what was expected.
[[nodiscard]] Result<Millis> parse_duration(std::string_view text);

// Formats a duration for people: "850ms", "12.3s", "4m05s", "2h10m".
std::string format_duration(Millis d);

}  // namespace shipshape
