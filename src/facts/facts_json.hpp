// Facts as JSON: the published document shape (docs/specs/facts-schema.md) for --json output,
// saved snapshots and the agent protocol. Text in and out, so that nlohmann stays in the .cpp.
#pragma once

#include <string>

#include "core/error.hpp"
#include "facts/facts.hpp"

namespace shipshape::facts {

// Serializes the sections listed in `sections` (empty: all). Compact when indent < 0.
std::string to_json(const HostFacts& facts, const std::vector<std::string>& sections, int indent);
// Parses a document written by to_json. Errc::invalid_argument names what is malformed.
[[nodiscard]] Result<HostFacts> from_json(const std::string& text);

}  // namespace shipshape::facts
