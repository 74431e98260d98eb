// The agent: the host's end of the fleet transport, the loop behind `shipshape agent`. It reads
// JSON-lines requests (framed by fleet/protocol.hpp, docs/specs/agent-protocol.md) and answers
// them: facts, exec (a command, its output streamed as events, stopped when the controller
// goes), bundle (a copy of the ops repo, kept under ~/.cache/shipshape/repo), shipshape
// (this binary run in that copy) and package-manifest (an installed package's manifest, read
// from the host's dpkg database). Requests are handled one at a time, in order.
#pragma once

#include "fleet/agent_binary.hpp"

namespace shipshape::app {

// Greets on `out_fd`, then reads requests from `in_fd` and answers on `out_fd` until end of
// input; returns 0. `self` is this executable (shipshape requests run it). `protocol` is the
// protocol version the controller asked for (0: none asked); when it is not this agent's, the
// agent ends after its greeting (which names its own) with exit 3, and says why on stderr.
// Exits the process at once when `out_fd` breaks (the controller is gone): the one place the
// library exits.
int serve_agent(int in_fd, int out_fd, const fleet::AgentBinary& self, int protocol = 0);

}  // namespace shipshape::app
