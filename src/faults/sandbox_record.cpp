#include "faults/sandbox_record.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <set>

#include "faults/cgroup.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"

namespace shipshape::faults {

namespace {

constexpr std::string_view k_header = "shipshape.fault-sandbox/1";
constexpr std::string_view k_record_prefix = "sandbox-";
constexpr std::string_view k_new_prefix = ".new-";

template <typename T>
bool parse_number(std::string_view text, T& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// The whole file as the fd sees it (the record is small).
Result<std::string> read_fd(int fd, const std::string& path) {
    std::string text;
    char buf[4096];
    off_t at = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, at);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return fail(os::errno_error("reading " + path, errno));
        }
        if (n == 0) {
            return text;
        }
        text.append(buf, static_cast<size_t>(n));
        at += n;
    }
}

Status write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return fail(os::errno_error("writing " + path, errno));
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

// Takes the write lock on the whole file: true when taken, false when another process holds it.
Result<bool> try_lock(int fd, const std::string& path) {
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &lock) == 0) {
        return true;
    }
    if (errno == EAGAIN || errno == EACCES) {
        return false;
    }
    return fail(os::errno_error("locking " + path, errno));
}

// DIR is a directory of this user that nobody else may write to: records there are trusted.
Status check_dir(const std::string& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        return fail(os::errno_error("checking " + dir, errno));
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
        return fail(Errc::permission_denied,
                    dir + " is not a directory of this user that only it may write to");
    }
    return {};
}

// DIR exists (made 0700 if not) and passes check_dir.
Status prepare_dir(const std::string& dir) {
    std::string parent = os::path_parent(dir);
    if (!parent.empty() && parent != dir) {
        ::mkdir(parent.c_str(), 0755);  // e.g. /run/shipshape; checked through dir below
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        int err = errno;
        return fail(Error(err == EACCES || err == EPERM ? Errc::permission_denied : Errc::io,
                          os::errno_error("creating " + dir, err).message()));
    }
    return check_dir(dir);
}

// Removes what the dead sandbox of `contents` owned; the record goes once nothing is left.
// The caller holds the record's lock.
void remove_owned(const RecordContents& contents, const std::string& record_path,
                  CleanupReport& report) {
    std::string name = sandbox_cgroup_name(contents.pid, contents.start_time);
    auto allowed = sandbox_cgroup_paths(name);
    bool all_gone = true;
    for (const auto& path : contents.cgroups) {
        if (std::find(allowed.begin(), allowed.end(), path) == allowed.end()) {
            report.failures.push_back(record_path + " names " + path + ", which is not the " +
                                      name + " cgroup of its sandbox: left alone");
            all_gone = false;
            continue;
        }
        bool existed = ::access(path.c_str(), F_OK) == 0;
        if (auto st = remove_cgroup(path); !st) {
            report.failures.push_back(st.error().message());
            all_gone = false;
        } else if (existed) {
            report.removed.push_back(path);
        }
    }
    if (all_gone && ::unlink(record_path.c_str()) != 0 && errno != ENOENT) {
        report.failures.push_back(os::errno_error("removing " + record_path, errno).message());
    }
}

// Looks at one file of the record directory: leaves a live sandbox alone, removes a dead one's
// leftovers. Adds every cgroup the record names to `named`.
void clean_one(const std::string& dir, const std::string& file, CleanupReport& report,
               std::set<std::string>& named) {
    std::string path = dir + "/" + file;
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) {  // ENOENT: its sandbox finished meanwhile
            report.failures.push_back(os::errno_error("opening " + path, errno).message());
        }
        return;
    }
    auto locked = try_lock(fd, path);
    auto text = read_fd(fd, path);
    if (!locked || !text) {
        report.failures.push_back(!locked ? locked.error().message() : text.error().message());
        ::close(fd);
        return;
    }
    bool temporary = file.rfind(k_new_prefix, 0) == 0;
    auto contents = parse_record(*text);
    if (!contents) {
        // A temporary record is renamed into place once complete, before anything is claimed:
        // unlocked and incomplete, it is one whose supervisor died while making it.
        if (temporary && *locked) {
            ::unlink(path.c_str());
        } else if (!temporary) {
            report.failures.push_back(path + ": " + contents.error().message() + ": left alone");
        }
        ::close(fd);
        return;
    }
    named.insert(contents->cgroups.begin(), contents->cgroups.end());
    if (record_is_live(!*locked, *contents, read_proc_stat(contents->pid))) {
        if (!temporary) {
            report.live.push_back(contents->pid);
        }
    } else {
        remove_owned(*contents, path, report);
    }
    ::close(fd);  // drops the lock last, after the record is gone
}

}  // namespace

Result<ProcStat> parse_proc_stat(std::string_view text) {
    // "PID (COMM) STATE PPID …": COMM may hold anything, so the fields start after the last ')'.
    auto close = text.rfind(')');
    if (close == std::string_view::npos || close + 2 >= text.size()) {
        return fail(Errc::invalid_argument, "not a /proc/PID/stat text");
    }
    std::string_view rest = text.substr(close + 2);
    ProcStat st;
    st.state = rest.front();
    // Field 3 is the state; the start time is field 22, 19 fields further.
    for (int field = 3; field < 22; ++field) {
        auto sp = rest.find(' ');
        if (sp == std::string_view::npos) {
            return fail(Errc::invalid_argument, "a /proc/PID/stat text without a start time");
        }
        rest.remove_prefix(sp + 1);
    }
    std::string_view start = rest.substr(0, rest.find(' '));
    if (!parse_number(start, st.start_time)) {
        return fail(Errc::invalid_argument,
                    "a /proc/PID/stat text with start time '" + std::string(start) + "'");
    }
    return st;
}

Result<ProcStat> read_proc_stat(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    auto text = os::read_whole_file(path);
    if (!text) {
        return fail(Errc::not_found, "no process " + std::to_string(pid));
    }
    return parse_proc_stat(*text);
}

std::string format_record(const RecordContents& record) {
    std::string text = std::string(k_header) + "\npid " + std::to_string(record.pid) + "\nstart " +
                       std::to_string(record.start_time) + "\n";
    for (const auto& c : record.cgroups) {
        text += "cgroup " + c + "\n";
    }
    return text;
}

Result<RecordContents> parse_record(std::string_view text) {
    auto bad = [](const std::string& why) {
        return fail(Errc::invalid_argument, "not a sandbox record: " + why);
    };
    RecordContents r;
    bool has_pid = false;
    bool has_start = false;
    size_t line_no = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        if (nl == std::string_view::npos) {
            break;  // a line cut short by the supervisor's death: what it names was not made
        }
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (++line_no == 1) {
            if (line != k_header) {
                return bad("the first line is not '" + std::string(k_header) + "'");
            }
            continue;
        }
        auto sp = line.find(' ');
        std::string_view key = line.substr(0, sp);
        std::string_view value = sp == std::string_view::npos ? "" : line.substr(sp + 1);
        if (key == "pid" && parse_number(value, r.pid) && r.pid > 0) {
            has_pid = true;
        } else if (key == "start" && parse_number(value, r.start_time)) {
            has_start = true;
        } else if (key == "cgroup" && value.starts_with('/')) {
            r.cgroups.emplace_back(value);
        } else {
            return bad("line " + std::to_string(line_no) + " is '" + std::string(line) + "'");
        }
    }
    if (!has_pid || !has_start) {
        return bad("no pid and start time");
    }
    return r;
}

std::string record_file_name(pid_t pid, uint64_t start_time) {
    return std::string(k_record_prefix) + std::to_string(pid) + "-" + std::to_string(start_time);
}

std::string sandbox_cgroup_name(pid_t pid, uint64_t start_time) {
    return "shipshape-fault-" + std::to_string(pid) + "-" + std::to_string(start_time);
}

bool record_is_live(bool lock_held, const RecordContents& record, const Result<ProcStat>& process) {
    if (lock_held) {
        return true;
    }
    // Unlocked yet the very process still running would be a supervisor that lost its lock: it
    // is left alone all the same. A zombie is dead, and a reused pid has another start time.
    return process && process->state != 'Z' && process->state != 'X' &&
           process->start_time == record.start_time;
}

Result<std::unique_ptr<SandboxRecord>> SandboxRecord::create(const std::string& dir) {
    if (auto st = prepare_dir(dir); !st) {
        return fail(st.error());
    }
    RecordContents contents;
    contents.pid = ::getpid();
    auto self = read_proc_stat(contents.pid);
    if (!self) {
        return fail(self.error().context("reading this process's start time"));
    }
    contents.start_time = self->start_time;
    std::string name = record_file_name(contents.pid, contents.start_time);
    std::string temporary = dir + "/" + std::string(k_new_prefix) + name;
    std::string path = dir + "/" + name;
    int fd = ::open(temporary.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return fail(os::errno_error("creating " + temporary, errno));
    }
    auto locked = try_lock(fd, temporary);
    Status written = locked && *locked ? write_all(fd, format_record(contents), temporary)
                     : locked ? fail(Errc::io, "locking " + temporary + ": held by another process")
                              : fail(locked.error());
    if (written && ::rename(temporary.c_str(), path.c_str()) != 0) {
        written = fail(os::errno_error("renaming " + temporary + " to " + path, errno));
    }
    if (!written) {
        ::unlink(temporary.c_str());
        ::close(fd);
        return fail(written.error());
    }
    return std::unique_ptr<SandboxRecord>(new SandboxRecord(fd, path, std::move(contents)));
}

SandboxRecord::~SandboxRecord() {
    ::close(m_fd);
}

Status SandboxRecord::claim_cgroup(const std::string& path) {
    if (auto st = write_all(m_fd, "cgroup " + path + "\n", m_path); !st) {
        return st;
    }
    m_contents.cgroups.push_back(path);
    return {};
}

void SandboxRecord::finish() {
    bool all_gone =
        std::none_of(m_contents.cgroups.begin(), m_contents.cgroups.end(),
                     [](const std::string& p) { return ::access(p.c_str(), F_OK) == 0; });
    if (all_gone) {
        ::unlink(m_path.c_str());
    }
}

CleanupReport cleanup_dead_sandboxes(const std::string& dir) {
    CleanupReport report;
    std::set<std::string> named;
    DIR* d = ::opendir(dir.c_str());
    if (Status trusted = d ? check_dir(dir) : Status{}; !trusted) {
        report.failures.push_back(trusted.error().message() + ": its records are not trusted");
        ::closedir(d);
        d = nullptr;
    }
    if (d) {
        std::vector<std::string> files;
        while (auto* e = ::readdir(d)) {
            std::string file = e->d_name;
            if (file.rfind(k_record_prefix, 0) == 0 || file.rfind(k_new_prefix, 0) == 0) {
                files.push_back(std::move(file));
            }
        }
        ::closedir(d);
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            clean_one(dir, file, report, named);
        }
    } else if (report.failures.empty() && errno != ENOENT) {
        report.failures.push_back(os::errno_error("reading " + dir, errno).message());
    }
    // Listed after the records were read: a sandbox starting meanwhile may show up here with a
    // cgroup it has just claimed. It is only reported, never touched.
    for (const auto& path : sandbox_like_cgroups()) {
        if (!named.count(path)) {
            report.left_alone.push_back(path);
        }
    }
    return report;
}

CleanupReport cleanup_dead_sandbox(const std::string& dir, pid_t pid, uint64_t start_time) {
    CleanupReport report;
    std::set<std::string> named;
    std::string file = record_file_name(pid, start_time);
    if (::access((dir + "/" + file).c_str(), F_OK) == 0) {
        clean_one(dir, file, report, named);
    }
    // A supervisor killed while creating its record leaves the temporary one.
    std::string temporary = std::string(k_new_prefix) + file;
    if (::access((dir + "/" + temporary).c_str(), F_OK) == 0) {
        clean_one(dir, temporary, report, named);
    }
    return report;
}

}  // namespace shipshape::faults
