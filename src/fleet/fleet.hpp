// The fleet transport: reaches remote hosts with the system OpenSSH client and talks to the
// shipshape agent there.
//
// - One ControlMaster connection per host (ssh_master.hpp).
// - On first contact the agent binary (shipshape-agent, static, agent_binary.hpp) is looked up
//   as ~/.cache/shipshape/shipshape-agent-<hash> on the host and copied there over the master
//   connection when missing, or when it greets with another protocol version (protocol.hpp);
//   the host must have this machine's architecture.
// - `shipshape-agent agent --protocol N` then speaks JSON lines on the ssh channel (session.hpp,
// framed by
//   protocol.hpp): one request object per line ({"id":N,"op":...}), any number of event lines
//   ({"id":N,"event":...}), one reply line ({"id":N,"ok":true|false,...}). See
//   docs/specs/agent-protocol.md.
//
// Every ssh process is started through the os::ProcessRunner the Fleet is given, so tests drive
// it with an os::FakeProcessRunner. A Fleet is safe to use from many threads at once (one call
// per host session at a time; a second call on a busy host opens a second session over the
// same master).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"
#include "core/error.hpp"
#include "fleet/agent_binary.hpp"
#include "fleet/ssh_master.hpp"
#include "os/process.hpp"

namespace shipshape::fleet {

// Receives each event line (JSON) the agent sends before its reply.
using EventFn = std::function<void(std::string_view line)>;

struct HostStats {
    bool agent_installed = false;  // this Fleet copied the agent to the host
    bool agent_replaced = false;   // ... over one that spoke another protocol
};

class Fleet {
  public:
    // `runner` starts every ssh process (nullptr: the real one).
    Fleet(SshOptions ssh, AgentBinary agent, const os::CancelSource* cancel,
          std::shared_ptr<os::ProcessRunner> runner = nullptr);
    ~Fleet();
    Fleet(const Fleet&) = delete;
    Fleet& operator=(const Fleet&) = delete;

    // Sends `request` (a JSON object without "id") to the agent on `host` and returns the reply
    // object as JSON text; "ok" says whether the agent did it. Connects and installs the agent
    // first when needed. Errors: Errc::unreachable with ssh's reason, Errc::unsupported (other
    // architecture, no ssh client), Errc::timeout, Errc::interrupted, Errc::io (the agent broke
    // off, sent no greeting, or could not be copied).
    [[nodiscard]] Result<std::string> call(const Endpoint& host, std::string_view request,
                                           Millis timeout, const EventFn& on_event = {});

    // Runs `remote_command` (a shell line for the login shell) on `host` over its master
    // connection, without the agent: the cost of one multiplexed ssh. Returns the exit status
    // (stdout and stderr go to `on_output` as they come). Errc::unreachable when the connection
    // is gone; Errc::timeout after `timeout` (the remote command is not stopped: use the
    // agent's exec for that); Errc::interrupted.
    [[nodiscard]] Result<int> run(const Endpoint& host, const std::string& remote_command,
                                  Millis timeout,
                                  const std::function<void(std::string_view)>& on_output);

    // Ends this Fleet's sessions with `host` and closes its master connection. Returns whether
    // a master connection was open. Errc::io when ssh could not close it.
    [[nodiscard]] Result<bool> disconnect(const Endpoint& host);

    HostStats stats(const std::string& host) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m;
};

}  // namespace shipshape::fleet
