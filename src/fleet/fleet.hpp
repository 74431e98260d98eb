// The fleet transport: reaches remote hosts with the system OpenSSH client and talks to the
// shipshape agent there.
//
// - One ControlMaster connection per host (ControlPersist, sockets in a private directory), so
//   users' ssh_config, keys, agents, jump hosts and known_hosts work as they always do.
// - On first contact the agent binary (this very executable) is looked up as
//   ~/.cache/shipshape/shipshape-<hash> on the host and copied there over the master connection
//   when missing; the host must have this machine's architecture and libraries.
// - `shipshape agent` then speaks JSON lines on the ssh channel: one request object per line
//   ({"id":N,"op":...}), any number of event lines ({"id":N,"event":...}), one reply line
//   ({"id":N,"ok":true|false,...}). See docs/specs/agent-protocol.md.
//
// A Fleet is safe to use from many threads at once (one call per host session at a time; a
// second call on a busy host opens a second session over the same master).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"
#include "core/error.hpp"
#include "os/process.hpp"

namespace shipshape::fleet {

struct SshOptions {
    std::string config;                // -F FILE
    std::string identity;              // -i FILE
    std::vector<std::string> options;  // -o Key=Value each
    std::string known_hosts;           // "strict", "accept-new", "off" or "" (ssh's own)
    Millis connect_timeout{10000};
    Millis persist{60000};    // ControlPersist
    std::string control_dir;  // empty: $XDG_RUNTIME_DIR/shipshape-ssh or /tmp/shipshape-ssh-UID
};

struct Endpoint {
    std::string name;     // the inventory name, for messages
    std::string address;  // what ssh connects to
    std::string user;     // empty: ssh's own choice
    int port = 22;
};

struct AgentBinary {
    std::string path;  // the file copied to hosts
    std::string hash;  // 16 hex digits of its content hash: the agent's file name
    std::string version;
};

// This executable as the agent binary (hashes /proc/self/exe).
[[nodiscard]] Result<AgentBinary> this_binary(const std::string& version);

// Receives each event line (JSON) the agent sends before its reply.
using EventFn = std::function<void(std::string_view line)>;

struct HostStats {
    bool agent_installed = false;  // this Fleet copied the agent to the host
};

class Fleet {
  public:
    Fleet(SshOptions ssh, AgentBinary agent, const os::CancelSource* cancel);
    ~Fleet();
    Fleet(const Fleet&) = delete;
    Fleet& operator=(const Fleet&) = delete;

    // Sends `request` (a JSON object without "id") to the agent on `host` and returns the reply
    // object as JSON text; "ok" says whether the agent did it. Connects and installs the agent
    // first when needed. Errors: Errc::unreachable with ssh's reason, Errc::unsupported (other
    // architecture), Errc::timeout, Errc::interrupted, Errc::io (the agent broke off).
    [[nodiscard]] Result<std::string> call(const Endpoint& host, std::string_view request,
                                           Millis timeout, const EventFn& on_event = {});

    // Runs `remote_command` (a shell line for the login shell) on `host` over its master
    // connection, without the agent: the cost of one multiplexed ssh. Returns the exit status
    // (stdout and stderr go to `on_output` as they come). Errc::unreachable when the connection
    // is gone; Errc::timeout after `timeout` (the remote command is not stopped: use the
    // agent's exec for that).
    [[nodiscard]] Result<int> run(const Endpoint& host, const std::string& remote_command,
                                  Millis timeout,
                                  const std::function<void(std::string_view)>& on_output);

    HostStats stats(const std::string& host) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m;
};

// Runs fn(i) for every i in [0, n) on at most `forks` threads; returns when all are done.
void fan_out(size_t n, int forks, const std::function<void(size_t)>& fn);

// The default parallelism for `hosts` hosts: all of them, up to 64.
int default_forks(size_t hosts);

// Quotes `s` for a POSIX shell: 'it'\''s'.
std::string shell_quote(std::string_view s);

}  // namespace shipshape::fleet
