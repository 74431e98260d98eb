// The process seam, and the only place shipshape creates child processes (but for the fault
// sandbox's namespace children, which must fork themselves). A command starts from an argv
// array (never through a shell unless the argv says so) with its standard streams chosen by the
// spec: stdin from /dev/null, a text, a descriptor or a pipe the caller writes; stdout and stderr
// merged or apart, to a sink, to pipes the caller reads, or to /dev/null.
//
// - run() runs a command to its end, streaming output to an OutputSink, enforcing a timeout and
//   honouring cancellation. It blocks its calling thread; several threads may call run() on one
//   runner at once.
// - start() starts a long-lived child (an ssh ControlMaster, an agent session) and hands back a
//   Child: its pid, its stdin to write, its stdout/stderr to read, wait/poll, and signals to its
//   whole process group. A Child is used by one thread at a time; destroying one that still runs
//   kills its group and reaps it.
//
// Each started process leads its own process group so that a timeout or Ctrl-C stops everything
// it spawned. A CancelSource is shared by all of them and may be triggered from a signal handler.
// FakeProcessRunner (os/fake_process.hpp) stands in for the real runner in unit tests.
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

// Where the child's stdin comes from.
enum class Input {
    null,  // /dev/null
    text,  // ProcessSpec::input_text, then end of file (run() only)
    fd,    // a duplicate of ProcessSpec::input_fd (the caller keeps and closes its own)
    pipe,  // a pipe the caller writes through Child::stdin_fd() (start() only)
};

// Where the child's stdout and stderr go.
enum class Output {
    pipe,  // to the sink (run()) or a pipe read through Child::stdout_fd()/stderr_fd()
    null,  // /dev/null
};
enum class Stderr {
    merged,    // into the same pipe as stdout
    separate,  // its own pipe: OutputSink::on_error_output (run()) or Child::stderr_fd()
    null,      // /dev/null
};

struct ProcessSpec {
    std::vector<std::string> argv;                // argv[0] is looked up in PATH when it has no '/'
    std::optional<std::vector<std::string>> env;  // "K=V" entries; nullopt inherits ours
    std::string cwd;                              // empty inherits ours
    Millis timeout{0};                            // 0 means none (run() only)
    Millis kill_grace{2000};                      // SIGTERM, then SIGKILL after this long
    Input input = Input::null;
    std::string input_text;  // for Input::text
    int input_fd = -1;       // for Input::fd
    Output output = Output::pipe;
    Stderr errors = Stderr::merged;
    // Called with the child's pid right after it starts (before any output is read; run() only).
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
    // stdout, and stderr too when it is merged.
    virtual void on_output(std::string_view chunk) = 0;
    // stderr under Stderr::separate; by default it joins stdout.
    virtual void on_error_output(std::string_view chunk) { on_output(chunk); }
};

// A sink that keeps everything: `out` (merged output, or stdout alone) and `err`.
struct CollectSink final : OutputSink {
    std::string out;
    std::string err;
    void on_output(std::string_view chunk) override { out.append(chunk); }
    void on_error_output(std::string_view chunk) override { err.append(chunk); }
};

// A started child process (see start()). The descriptors it hands out are its own: they stay
// valid until close_stdin() or the Child's destruction, and stdout/stderr are non-blocking.
class Child {
  public:
    virtual ~Child() = default;  // a running child's group is killed (SIGKILL) and reaped
    virtual pid_t pid() const = 0;
    // Our end of its stdin (Input::pipe), -1 otherwise or once closed. Non-blocking.
    virtual int stdin_fd() const = 0;
    virtual void close_stdin() = 0;
    // Our ends of its stdout and stderr (Output::pipe / Stderr::separate), -1 otherwise.
    virtual int stdout_fd() const = 0;
    virtual int stderr_fd() const = 0;
    // The outcome once the child has exited (it is then reaped), nullopt while it runs.
    virtual std::optional<ProcessOutcome> poll() = 0;
    // Waits for the child to exit. `timeout` 0 waits for ever; when it passes, or `cancel`
    // fires, the group is killed (SIGKILL) and the outcome is timed_out or cancelled.
    virtual ProcessOutcome wait(Millis timeout, const CancelSource* cancel) = 0;
    // Sends `sig` to the child's whole process group.
    virtual void signal(int sig) = 0;
};

class ProcessRunner {
  public:
    virtual ~ProcessRunner() = default;
    // Runs the command to completion. Returns its outcome (a non-zero exit is an outcome, not an
    // error), or Errc::not_found when argv[0] cannot be found or executed, Errc::invalid_argument
    // for an empty argv or Input::pipe, Errc::io when the OS refuses to create the process.
    [[nodiscard]] virtual Result<ProcessOutcome> run(const ProcessSpec& spec, OutputSink& sink,
                                                     const CancelSource* cancel) = 0;
    // Starts the command and returns at once. The same errors as run(); Input::text is
    // Errc::invalid_argument here (write it through Input::pipe).
    [[nodiscard]] virtual Result<std::unique_ptr<Child>> start(const ProcessSpec& spec) = 0;
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
