// Sandbox: a place where faults are real. start() forks a supervisor process that enters
// private user (when not root), network, mount and pid namespaces, sets up every asked fault
// with kernel mechanisms (nftables, NFQUEUE, tbf, tmpfs, FUSE, memory cgroups, rlimits) and
// then runs commands inside on request. Nothing outside those namespaces is touched except a
// memory cgroup directory (removed at the end, or by cleanup_stale_cgroups after a kill -9).
//
// Lifetime: the supervisor dies with the process that started it (PR_SET_PDEATHSIG), and
// every command inside dies with the supervisor (they live in its pid namespace, whose init
// is tied to it), so a killed shipshape leaves no processes, namespaces or mounts behind. What
// outlives a killed supervisor (a memory cgroup) is named in its record (sandbox_record.hpp):
// the starter removes it when it sees the supervisor die, cleanup_leftovers() otherwise.
//
// Threading: a Sandbox and its Control are used from one thread at a time. Requests are
// answered in order; wait() blocks until that command ends.
//
// Time: fault windows (start/stop) count from the first spawn(), so "loss from 2s" means two
// seconds into the command, not into setup.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/duration.hpp"
#include "core/error.hpp"
#include "faults/fault.hpp"
#include "faults/sandbox_record.hpp"

namespace shipshape::faults {

// What happened to one fault over the life of the sandbox.
struct FaultOutcome {
    int id = 0;
    Fault fault;
    std::string mechanism;   // "nftables", "NFQUEUE", "tbf", "tmpfs", "FUSE", "memory cgroup v1"…
    bool observable = true;  // false when nothing can tell whether it fired (alloc-limit)
    bool fired = false;
    std::vector<std::pair<std::string, uint64_t>> counts;  // e.g. {"packets_dropped", 12}
    std::vector<std::pair<int64_t, int64_t>> active_ms;    // windows it was on; -1 = still on
    std::string note;
};

enum class CommandExit { exited, signaled };

struct CommandOutcome {
    std::vector<std::string> argv;
    CommandExit kind = CommandExit::exited;
    int code = 0;  // exit status, or the signal number
    bool oom_killed = false;
    Millis elapsed{0};

    // The status a shell would give: code, or 128 + signal.
    int shell_status() const { return kind == CommandExit::exited ? code : 128 + code; }
};

struct Report {
    std::vector<FaultOutcome> faults;
    std::vector<CommandOutcome> commands;
    Millis setup{0};
    Millis teardown{0};
    bool user_namespace = false;  // true when run without root (user namespace mapped to root)
};

// JSON for scripts ("shipshape.fault-report/1"), and back (the supervisor sends its report to
// the parent this way). parse_report_json returns Errc::invalid_argument on malformed input.
std::string report_to_json(const Report& report);
[[nodiscard]] Result<Report> parse_report_json(std::string_view text);

// A connection to a running sandbox's supervisor: changes faults while commands run.
//
// Interruption: when `cancel_fd` (an os::CancelSource's eventfd) becomes readable while a
// request waits for its reply, the supervisor is told once to interrupt its commands (SIGINT
// at once, SIGTERM and then SIGKILL after SandboxOptions::interrupt_grace each), and the wait
// goes on: the reply still comes, when the command has ended.
class Control {
  public:
    explicit Control(int fd, int cancel_fd = -1) : m_fd(fd), m_cancel_fd(cancel_fd) {}
    Control(const Control&) = delete;
    Control& operator=(const Control&) = delete;

    // Adds a fault (enabled at once unless it has a window) and returns its id.
    // Errc::unsupported when this sandbox cannot provide it.
    [[nodiscard]] Result<int> add(const Fault& fault);
    [[nodiscard]] Status enable(int id);
    [[nodiscard]] Status disable(int id);
    // The report so far (counters read now).
    [[nodiscard]] Result<Report> report();

    // The raw request: one message out, one back. Replies start "ok" or "err". Errc::io when
    // the supervisor went away (lost() is true then).
    [[nodiscard]] Result<std::string> request(const std::string& message);
    // request(), with "ok REST" turned into REST and "err CODE MESSAGE" into that error.
    [[nodiscard]] Result<std::string> call(const std::string& message);
    // True once the cancel fd fired and the supervisor was told to interrupt.
    bool interrupted() const { return m_interrupted; }
    // True once the supervisor's end of the connection closed: it died.
    bool lost() const { return m_lost; }

  private:
    int m_fd;
    int m_cancel_fd;
    bool m_interrupted = false;
    bool m_lost = false;
};

// Disables a fault when it goes out of scope: `auto cut = sandbox.scoped(block);`.
class ScopedFault {
  public:
    ScopedFault(Control& control, int id) : m_control(&control), m_id(id) {}
    ScopedFault(ScopedFault&& o) noexcept : m_control(o.m_control), m_id(o.m_id) {
        o.m_control = nullptr;
    }
    ScopedFault& operator=(ScopedFault&&) = delete;
    ScopedFault(const ScopedFault&) = delete;
    ~ScopedFault() {
        if (m_control) {
            (void)m_control->disable(m_id);
        }
    }
    int id() const { return m_id; }

  private:
    Control* m_control;
    int m_id;
};

struct SandboxOptions {
    // Runs in a child inside the sandbox when call_body() is asked; its return value is the
    // child's exit status. It gets a Control to change faults from inside.
    std::function<int(Control&)> body;
    // Where the clock-skew preload library is (empty: next to /proc/self/exe).
    std::string preload_library;
    // Readable when the user asks to stop (os::CancelSource::fd()); -1: never. See Control.
    int cancel_fd = -1;
    // After an interrupt: how long commands get after SIGINT before SIGTERM, and after
    // SIGTERM before SIGKILL.
    Millis interrupt_grace{3000};
    // Where the supervisor keeps its record (sandbox_record.hpp). Without one (this user may
    // not write there) the sandbox works, but cannot have a memory cgroup.
    std::string record_dir = k_default_record_dir;
};

class Sandbox {
  public:
    // Checks prerequisites, forks the supervisor and waits until every fault is in place.
    // Errc::unsupported (naming the missing privilege, tool or kernel feature) or
    // Errc::invalid_argument (e.g. a fault path that does not exist); nothing is left behind.
    //
    // Here and in every call below: when the supervisor dies (killed from outside), the call
    // reaps it, removes what its record names, and returns Errc::io saying which signal killed
    // it and what was removed (Errc::internal when it crashed: SIGSEGV, SIGABRT…, or exited).
    [[nodiscard]] static Result<std::unique_ptr<Sandbox>> start(const std::vector<Fault>& faults,
                                                                SandboxOptions options = {});
    ~Sandbox();  // finishes if finish() was not called, then reaps the supervisor
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    // Starts a command inside (stdio inherited from this process; argv[0] searched in PATH;
    // `cwd` empty = ours) and returns its id. Errc::not_found when it cannot be executed.
    [[nodiscard]] Result<int> spawn(const std::vector<std::string>& argv,
                                    const std::string& cwd = {});
    // Starts options.body in a child inside.
    [[nodiscard]] Result<int> call_body();
    // Waits for a spawned command and returns how it ended.
    [[nodiscard]] Result<CommandOutcome> wait(int id);
    [[nodiscard]] Result<CommandOutcome> run(const std::vector<std::string>& argv) {
        auto id = spawn(argv);
        if (!id) {
            return fail(id.error());
        }
        return wait(*id);
    }

    Control& control() { return m_control; }
    ScopedFault scoped(const Fault& fault);  // aborts the test on failure: for test code
    // Convenience for tests: add a fault from its flag text, e.g. add("block-port", "5432").
    [[nodiscard]] Result<int> add(std::string_view kind, std::string_view value);

    // Kills commands still running, applies the power-loss model, reads every counter, tears
    // everything down and returns the final report.
    [[nodiscard]] Result<Report> finish();

    pid_t supervisor() const { return m_pid; }

  private:
    Sandbox(pid_t pid, int fd, int cancel_fd) : m_pid(pid), m_fd(fd), m_control(fd, cancel_fd) {}
    // `e`, or the supervisor's death when that is what it means (see start()).
    Error checked(const Error& e);
    // Reaps the dead supervisor, removes what its record names, and says so. `when` is added
    // to the cause ("while setting up"); empty: nothing.
    Error lost_supervisor(const std::string& when = {});
    pid_t m_pid;
    uint64_t m_start_time = 0;  // the supervisor's, which names its record
    std::string m_record_dir;
    int m_fd;
    Control m_control;
    bool m_finished = false;
    bool m_reaped = false;
    std::optional<Error> m_lost;  // once set, every call fails with it
};

// Runs `argv` under `faults` from start to finish: the whole of `shipshape fault`.
[[nodiscard]] Result<Report> run_with_faults(const std::vector<Fault>& faults,
                                             const std::vector<std::string>& argv,
                                             SandboxOptions options = {});

// Removes what killed sandboxes recorded in `record_dir` as their own (memory cgroups), and
// nothing else. See CleanupReport.
CleanupReport cleanup_leftovers(const std::string& record_dir = k_default_record_dir);

}  // namespace shipshape::faults
