// One JSON-lines session with a `shipshape agent` on a host: the ssh child it runs in, the
// lines read from its stdout, what ssh said on stderr, and the request numbering. Used by one
// thread at a time (Fleet keeps idle sessions per host). Reads and writes end early with
// Errc::interrupted when the CancelSource fires and Errc::timeout at the deadline.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "fleet/ssh_master.hpp"
#include "os/process.hpp"

namespace shipshape::fleet {

using Deadline = std::chrono::steady_clock::time_point;

// Now, from the clock seam; `after` 0 means no deadline.
Deadline deadline_after(Millis after);

class Session {
  public:
    Session(std::unique_ptr<os::Child> child, Endpoint host, const os::CancelSource* cancel);
    ~Session();  // close(2 s)
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // The next line from the child's stdout, collecting its stderr meanwhile. Errc::io "eof"
    // once stdout has ended; Errc::timeout ("no answer from the agent in time"),
    // Errc::interrupted.
    [[nodiscard]] Result<std::string> read_line(Deadline deadline);
    // Writes all of `data` to the child's stdin. Errc::io when the connection broke off,
    // Errc::timeout ("the agent does not read its input"), Errc::interrupted.
    [[nodiscard]] Status write_all(std::string_view data, Deadline deadline);
    // Reads stdout and stderr to their end (or the deadline), discarding stdout.
    [[nodiscard]] Status drain(Deadline deadline);

    // The error for a session whose agent ended (or never started), from ssh's exit status and
    // what it said: Errc::unreachable (exit 255), Errc::unsupported (the agent cannot load its
    // libraries) or Errc::io ("the agent ended (exit N): …").
    Error ended();

    // Ends the session: the agent sees end of input and exits (stopping what it runs); after
    // `grace` its ssh is killed. Returns its exit code, -1 when it did not exit by itself.
    int close(Millis grace);
    // Closes only its input, so that many sessions can be ended at once.
    void close_input() { m_child->close_stdin(); }

    long long next_id() { return m_next_id++; }
    const std::string& stderr_text() const { return m_err_buf; }
    const Endpoint& host() const { return m_host; }

  private:
    void read_stderr();

    std::unique_ptr<os::Child> m_child;
    Endpoint m_host;
    const os::CancelSource* m_cancel;
    std::string m_out_buf;
    std::string m_err_buf;
    long long m_next_id = 1;
    bool m_eof = false;
    bool m_err_open = true;
    std::optional<int> m_exit;
};

}  // namespace shipshape::fleet
