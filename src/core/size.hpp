// Byte sizes as written in ops-repo files and on the command line: "2 GiB", "512M", "10 GB",
// "4096". Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace shipshape {

// Parses a number (decimals allowed) and an optional unit: B; KiB MiB GiB TiB and K M G T
// (powers of 1024); KB MB GB TB (powers of 1000). Errc::invalid_argument says what was expected.
[[nodiscard]] Result<uint64_t> parse_size(std::string_view text);

// Formats bytes for people: "512 B", "1.5 KiB", "2.0 GiB".
std::string format_size(uint64_t bytes);

}  // namespace shipshape
