// The terminal view of `shipshape facts`: one host's facts, a line per section (and per mount,
// interface and listening socket). Only cli prints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "facts/facts.hpp"

namespace shipshape::cli {

// Prints `facts` for people, the sections in `only` (all when empty); `snapshot` is the id it
// was saved as (0: not saved).
void print_facts(const facts::HostFacts& facts, const std::vector<std::string>& only,
                 int64_t snapshot);

}  // namespace shipshape::cli
