// The agent binary: this very executable, copied to hosts as
// ~/.cache/shipshape/shipshape-HASH, where HASH (16 hex digits) names this build. Hosts must
// have this machine's architecture and libraries.
#pragma once

#include <string>

#include "core/error.hpp"

namespace shipshape::fleet {

struct AgentBinary {
    std::string path;  // the file copied to hosts
    std::string hash;  // 16 hex digits of its content hash: the agent's file name
    std::string version;
};

// This executable as the agent binary: HASH is the start of its GNU build id, else the XXH3 of
// its content (/proc/self/exe). Errc::io (or the errno's code) when it cannot be read.
[[nodiscard]] Result<AgentBinary> this_binary(const std::string& version);

}  // namespace shipshape::fleet
