// CancelSource, the names and descriptions of outcomes, and facts about other processes
// (start ticks, group termination): the parts of the process seam that start nothing.
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include "core/clock.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"
#include "os/process.hpp"

namespace shipshape::os {

Result<CancelSource> CancelSource::create() {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        return fail(errno_error("creating eventfd", errno));
    }
    return CancelSource(fd);
}

CancelSource::CancelSource(CancelSource&& other) noexcept : m_fd(other.m_fd) {
    other.m_fd = -1;
}

CancelSource::~CancelSource() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

void CancelSource::cancel() const {
    uint64_t one = 1;
    // Async-signal-safe; a failure here (counter overflow) still leaves the fd readable.
    [[maybe_unused]] ssize_t n = ::write(m_fd, &one, sizeof one);
}

bool CancelSource::cancelled() const {
    pollfd p{m_fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

std::string_view exit_kind_name(ExitKind kind) {
    switch (kind) {
        case ExitKind::exited:
            return "exited";
        case ExitKind::signaled:
            return "signaled";
        case ExitKind::timed_out:
            return "timed_out";
        case ExitKind::cancelled:
            return "cancelled";
    }
    return "exited";
}

std::optional<ExitKind> parse_exit_kind(std::string_view name) {
    for (auto k :
         {ExitKind::exited, ExitKind::signaled, ExitKind::timed_out, ExitKind::cancelled}) {
        if (exit_kind_name(k) == name) {
            return k;
        }
    }
    return std::nullopt;
}

std::string describe(const ProcessOutcome& outcome, Millis timeout) {
    switch (outcome.kind) {
        case ExitKind::exited:
            return "exit " + std::to_string(outcome.code);
        case ExitKind::signaled: {
            const char* name = sigabbrev_np(outcome.code);
            return std::string("killed by SIG") + (name ? name : std::to_string(outcome.code));
        }
        case ExitKind::timed_out:
            return "timed out after " + format_duration(timeout);
        case ExitKind::cancelled:
            return "interrupted";
    }
    return "unknown";
}

std::optional<unsigned long long> process_start_ticks(pid_t pid) {
    if (pid <= 0) {
        return std::nullopt;
    }
    auto read = read_whole_file("/proc/" + std::to_string(pid) + "/stat");
    if (!read) {
        return std::nullopt;
    }
    const std::string& text = *read;
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    size_t close = text.rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    // A zombie has exited: it counts as gone.
    if (close + 2 < text.size() && (text[close + 2] == 'Z' || text[close + 2] == 'X')) {
        return std::nullopt;
    }
    // Fields after the name start at 3 (state); starttime is field 22.
    for (int i = 3; i <= 22; ++i) {
        if (!(fields >> field)) {
            return std::nullopt;
        }
    }
    return std::strtoull(field.c_str(), nullptr, 10);
}

bool terminate_process_group(pid_t pgid, unsigned long long start_ticks, Millis grace) {
    auto now_ticks = process_start_ticks(pgid);
    if (!now_ticks || *now_ticks != start_ticks) {
        return false;
    }
    if (::kill(-pgid, SIGTERM) != 0) {
        return false;
    }
    const Clock& clock = system_clock();
    auto until = clock.monotonic() + grace;
    while (clock.monotonic() < until) {
        if (::kill(-pgid, 0) != 0) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(-pgid, SIGKILL);
    return true;
}

}  // namespace shipshape::os
