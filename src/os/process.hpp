// The process seam: start a command from an argv array (never through a shell unless the argv
// says so), stream its merged stdout/stderr to a sink, enforce a timeout and honour
// cancellation. Each started process leads its own process group so that a timeout or Ctrl-C
// stops everything it spawned. run() blocks its calling thread; several threads may call run()
// on one runner at once. A CancelSource is shared by all of them and may be triggered from a
// signal handler.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"
#include "core/error.hpp"

namespace shipshape::os {

// An eventfd that becomes readable once cancel() is called. cancel() is async-signal-safe.
class CancelSource {
  public:
    [[nodiscard]] static Result<CancelSource> create();
    CancelSource(CancelSource&& other) noexcept;
    CancelSource& operator=(CancelSource&&) = delete;
    CancelSource(const CancelSource&) = delete;
    ~CancelSource();

    void cancel() const;
    bool cancelled() const;
    int fd() const { return m_fd; }

  private:
    explicit CancelSource(int fd) : m_fd(fd) {}
    int m_fd;
};

struct ProcessSpec {
    std::vector<std::string> argv;                // argv[0] is looked up in PATH when it has no '/'
    std::optional<std::vector<std::string>> env;  // "K=V" entries; nullopt inherits ours
    std::string cwd;                              // empty inherits ours
    Millis timeout{0};                            // 0 means none
    Millis kill_grace{2000};                      // SIGTERM, then SIGKILL after this long
    // Called with the child's pid right after it starts (before any output is read).
    std::function<void(pid_t)> on_started;
};

enum class ExitKind { exited, signaled, timed_out, cancelled };

struct ProcessOutcome {
    ExitKind kind = ExitKind::exited;
    int code = 0;  // exit status for `exited`, signal number for `signaled`, else -1
    Millis elapsed{0};

    bool success() const { return kind == ExitKind::exited && code == 0; }
};

// "exited", "signaled", "timed_out", "cancelled": the names in JSON documents and the agent
// protocol; parse_exit_kind is the inverse.
std::string_view exit_kind_name(ExitKind kind);
std::optional<ExitKind> parse_exit_kind(std::string_view name);

// Describes an outcome for people: "exit 0", "exit 3", "killed by SIGKILL", "timed out after 2m".
std::string describe(const ProcessOutcome& outcome, Millis timeout);

class OutputSink {
  public:
    virtual ~OutputSink() = default;
    virtual void on_output(std::string_view chunk) = 0;
};

class ProcessRunner {
  public:
    virtual ~ProcessRunner() = default;
    // Runs the command to completion. Returns its outcome (a non-zero exit is an outcome, not an
    // error), or Errc::not_found when argv[0] cannot be found or executed, Errc::invalid_argument
    // for an empty argv, Errc::io when the OS refuses to create the process.
    [[nodiscard]] virtual Result<ProcessOutcome> run(const ProcessSpec& spec, OutputSink& sink,
                                                     const CancelSource* cancel) = 0;
};

std::unique_ptr<ProcessRunner> make_process_runner();

// Facts about other processes, used to detect stale locks and leftovers of a killed run.
// Returns the process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or
// nullopt when no such process exists.
std::optional<unsigned long long> process_start_ticks(pid_t pid);

// Sends SIGTERM, then after `grace` SIGKILL, to the process group `pgid` if its leader still
// has start time `start_ticks`. Returns whether anything was signalled.
bool terminate_process_group(pid_t pgid, unsigned long long start_ticks, Millis grace);

}  // namespace shipshape::os
