// The ssh side of the fleet: the system OpenSSH client with one ControlMaster connection per
// host (ControlPersist, sockets in a private directory), so users' ssh_config, keys, agents,
// jump hosts and known_hosts work as they always do. SshMaster builds ssh's arguments, starts
// and checks the master connection, starts commands over it and closes it (`fleet disconnect`).
// Every ssh process is started through the os::ProcessRunner it is given.
//
// Thread-safe: many threads may use one SshMaster at once; connecting to one host is serialised
// (one master per host), different hosts connect in parallel.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
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

// "host NAME" or "host NAME (ADDRESS)": how messages name a host.
std::string who(const Endpoint& e);

// The last non-empty lines of ssh's stderr, joined with "; ": its reason for failing
// ("ssh gave no reason" when it said nothing useful).
std::string reason_of(const std::string& text);

class SshMaster {
  public:
    SshMaster(SshOptions ssh, std::shared_ptr<os::ProcessRunner> runner,
              const os::CancelSource* cancel);

    const SshOptions& options() const { return m_ssh; }

    // Makes sure a live master connection to `e` exists, starting one when needed. Errors:
    // Errc::unreachable with ssh's reason (or "no ssh connection within D" when the handshake
    // does not end), Errc::interrupted, Errc::unsupported when there is no ssh client,
    // Errc::permission_denied for an unsafe control directory.
    [[nodiscard]] Status ensure_master(const Endpoint& e);

    // Whether a master connection to `e` answers on its control socket.
    bool master_alive(const Endpoint& e);

    // Starts `remote_command` (a line for the remote login shell) over the master connection,
    // stdout and stderr to separate pipes, stdin as `input` says (Input::fd reads `input_fd`).
    [[nodiscard]] Result<std::unique_ptr<os::Child>> start(const Endpoint& e,
                                                           const std::string& remote_command,
                                                           os::Input input, int input_fd = -1);

    // Runs `remote_command` over the master connection to its end, its stdout to
    // sink.on_output and its stderr to sink.on_error_output; stdin is /dev/null. Returns ssh's
    // outcome (timed_out after `timeout`, cancelled by the CancelSource: ssh is stopped, the
    // remote command may go on).
    [[nodiscard]] Result<os::ProcessOutcome> run(const Endpoint& e,
                                                 const std::string& remote_command, Millis timeout,
                                                 os::OutputSink& sink);

    // Closes the master connection to `e` (`ssh -O exit`) and removes its socket. Returns
    // whether a master was running. Errc::io when ssh could not stop it.
    [[nodiscard]] Result<bool> disconnect(const Endpoint& e);

  private:
    Result<std::string> control_dir();
    Result<std::string> control_path(const Endpoint& e);
    std::vector<std::string> base_argv(const std::string& control, const Endpoint& e) const;
    Result<os::ProcessSpec> command_spec(const Endpoint& e, const std::string& remote_command);
    Result<std::unique_ptr<os::Child>> spawn(const os::ProcessSpec& spec);
    Error missing_ssh(const Error& error) const;

    SshOptions m_ssh;
    std::shared_ptr<os::ProcessRunner> m_runner;
    const os::CancelSource* m_cancel;
    std::mutex m_lock;  // m_dir, m_connecting
    std::optional<Result<std::string>> m_dir;
    std::map<std::string, std::unique_ptr<std::mutex>> m_connecting;  // by control path
};

}  // namespace shipshape::fleet
