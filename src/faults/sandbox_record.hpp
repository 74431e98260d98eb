// SandboxRecord: the one thing that says a sandbox exists and what it owns outside its own
// namespaces. Everything else a sandbox sets up (nftables table, mounts, FUSE, NFQUEUE, the
// network and mount namespaces) dies with its last process; a memory cgroup does not, so a
// killed sandbox leaves it behind. `shipshape fault --cleanup` removes exactly what dead
// sandboxes' records name and nothing else: liveness is decided by the record, never by a
// process or cgroup name.
//
// The record is a text file DIR/sandbox-PID-START (PID and START, field 22 of /proc/PID/stat,
// are the supervisor's), holding those two and one "cgroup PATH" line per cgroup, written
// BEFORE the cgroup is made. Its supervisor holds a POSIX write lock (fcntl F_SETLK) on it for
// its whole life. A POSIX lock, not flock(): it belongs to the process, is not inherited by
// the supervisor's forks (the pid namespace's init, bodies), and the kernel drops it the
// moment the supervisor dies, so "lock free" means exactly "the supervisor is gone". The file
// is made under a temporary name, locked, filled and only then renamed into place, so a record
// under its final name is never seen unlocked while its supervisor lives.
//
// A sandbox is live when its record is locked, or when a process with its pid and start time
// still runs (not a zombie): a pid reused by another program has another start time. Anything
// else is dead, and its record's cgroups may be removed.
//
// Threading: a SandboxRecord is used by the supervisor's event loop only. The free functions
// are safe anywhere.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace shipshape::faults {

// Where sandboxes keep their records unless SandboxOptions says otherwise (root only: a sandbox
// without root owns nothing outside its namespaces, and keeps no record).
inline constexpr const char* k_default_record_dir = "/run/shipshape/fault";

// A process as /proc/PID/stat tells it: its state letter (R, S, Z…) and start time (clock
// ticks after boot, field 22), which tells a pid's reuse apart.
struct ProcStat {
    char state = '?';
    uint64_t start_time = 0;
};

// Parses the text of /proc/PID/stat (the command name may hold spaces and parentheses).
// Errc::invalid_argument when it is not one.
[[nodiscard]] Result<ProcStat> parse_proc_stat(std::string_view text);
// Reads /proc/PID/stat. Errc::not_found when no process has that pid.
[[nodiscard]] Result<ProcStat> read_proc_stat(pid_t pid);

struct RecordContents {
    pid_t pid = 0;
    uint64_t start_time = 0;
    std::vector<std::string> cgroups;  // absolute paths, in the order they were claimed
};

std::string format_record(const RecordContents& record);
// Errc::invalid_argument for a text that is no record. A last line without its newline is
// ignored: the supervisor died while appending it, before making what it names.
[[nodiscard]] Result<RecordContents> parse_record(std::string_view text);

// "sandbox-PID-START", the record's file name; "shipshape-fault-PID-START", its cgroup's.
std::string record_file_name(pid_t pid, uint64_t start_time);
std::string sandbox_cgroup_name(pid_t pid, uint64_t start_time);

// Live when the lock is held, or when `process` (read_proc_stat of the record's pid) is the
// record's own process still running; dead otherwise (gone, a zombie, or a reused pid).
bool record_is_live(bool lock_held, const RecordContents& record, const Result<ProcStat>& process);

class SandboxRecord {
  public:
    // Creates and locks DIR/sandbox-PID-START for the calling process (DIR is made 0700 and must
    // belong to this user). Errc::io or Errc::permission_denied (with the path) otherwise.
    [[nodiscard]] static Result<std::unique_ptr<SandboxRecord>> create(const std::string& dir);
    // Closes the record (the lock goes with it) and leaves the file: a record whose cgroups
    // were not all removed stays for --cleanup. finish() removes it first when they were.
    ~SandboxRecord();
    SandboxRecord(const SandboxRecord&) = delete;
    SandboxRecord& operator=(const SandboxRecord&) = delete;

    // Records `path` as this sandbox's before it is made. An error means: do not make it.
    [[nodiscard]] Status claim_cgroup(const std::string& path);
    // At the end of the sandbox: removes the record when nothing it claimed exists any more.
    void finish();

    pid_t pid() const { return m_contents.pid; }
    uint64_t start_time() const { return m_contents.start_time; }
    const std::string& path() const { return m_path; }

  private:
    SandboxRecord(int fd, std::string path, RecordContents contents)
        : m_fd(fd), m_path(std::move(path)), m_contents(std::move(contents)) {}
    int m_fd;
    std::string m_path;
    RecordContents m_contents;
};

// What a cleanup did. Paths are absolute.
struct CleanupReport {
    std::vector<std::string> removed;     // cgroups of dead sandboxes, removed
    std::vector<pid_t> live;              // supervisors of live sandboxes, left alone
    std::vector<std::string> left_alone;  // cgroups named like ours that no record names
    std::vector<std::string> failures;    // what could not be done, with the reason
};

// Removes what every dead sandbox recorded in `dir` owned, then its record; reports the live
// ones, and cgroups that look like a sandbox's but that no record names (never touched).
CleanupReport cleanup_dead_sandboxes(const std::string& dir);
// The same for the one sandbox of supervisor `pid` started at `start_time` (its starter, after
// the supervisor died). Nothing to do when it kept no record.
CleanupReport cleanup_dead_sandbox(const std::string& dir, pid_t pid, uint64_t start_time);

}  // namespace shipshape::faults
