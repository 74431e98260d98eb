// The agent binary: `shipshape-agent`, a small static executable installed beside `shipshape`
// (docs/agent.md), copied to hosts as ~/.cache/shipshape/shipshape-agent-HASH, where HASH (16
// hex digits) names its content. Static: a host needs no library of this machine's, only the
// same architecture.
#pragma once

#include <optional>
#include <string>

#include "core/error.hpp"

namespace shipshape::fleet {

struct AgentBinary {
    std::string path;  // the file copied to hosts
    std::string hash;  // 16 hex digits of its content hash: the agent's file name
    std::string version;
    // Why there is no agent to copy (agent_binary failed): reported by the first call that
    // needs it, so that commands on local hosts work without one.
    std::optional<Error> unavailable;
};

// The running executable itself (the agent's own greeting): HASH is the start of its GNU build
// id, else the XXH3 of its content (/proc/self/exe). Errc::io (or the errno's code) when it
// cannot be read.
[[nodiscard]] Result<AgentBinary> this_binary(const std::string& version);

// The agent a controller copies to hosts: $SHIPSHAPE_AGENT when set, else `shipshape-agent` in
// the directory of the running executable. Its hash is left empty: agent_hash() reads the file
// when a host session first needs the name (a command that reaches no host does not pay the
// ~4 ms). Errc::not_found saying where it was looked for (and how to get it) when it is missing.
[[nodiscard]] Result<AgentBinary> agent_binary(const std::string& version);

// The XXH3 of the file at `path`, as 16 hex digits. Errc::io (or the errno's code).
[[nodiscard]] Result<std::string> agent_hash(const std::string& path);

}  // namespace shipshape::fleet
