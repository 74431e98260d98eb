#include "fleet/session.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/clock.hpp"

namespace shipshape::fleet {

namespace {

constexpr size_t k_stderr_limit = 65536;

int ms_until(Deadline deadline) {
    auto left = std::chrono::duration_cast<Millis>(deadline - system_clock().monotonic()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

}  // namespace

Deadline deadline_after(Millis after) {
    return after.count() > 0 ? system_clock().monotonic() + after : Deadline::max();
}

Session::Session(std::unique_ptr<os::Child> child, Endpoint host, const os::CancelSource* cancel)
    : m_child(std::move(child)), m_host(std::move(host)), m_cancel(cancel) {}

Session::~Session() {
    close(std::chrono::seconds(2));
}

void Session::read_stderr() {
    char buf[8192];
    for (;;) {
        ssize_t r = ::read(m_child->stderr_fd(), buf, sizeof buf);
        if (r > 0) {
            if (m_err_buf.size() < k_stderr_limit) {
                m_err_buf.append(buf, static_cast<size_t>(r));
            }
            continue;
        }
        if (r == 0) {
            m_err_open = false;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        return;  // EAGAIN: nothing more for now
    }
}

Result<std::string> Session::read_line(Deadline deadline) {
    for (;;) {
        size_t nl = m_out_buf.find('\n');
        if (nl != std::string::npos) {
            std::string line = m_out_buf.substr(0, nl);
            m_out_buf.erase(0, nl + 1);
            return line;
        }
        if (m_eof) {
            return fail(Errc::io, "eof");
        }
        pollfd p[3] = {{m_child->stdout_fd(), POLLIN, 0},
                       {m_err_open ? m_child->stderr_fd() : -1, POLLIN, 0},
                       {m_cancel ? m_cancel->fd() : -1, POLLIN, 0}};
        int n = ::poll(p, 3, ms_until(deadline));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (m_cancel && m_cancel->cancelled()) {
            return fail(Errc::interrupted, who(m_host) + ": interrupted");
        }
        if (n == 0) {
            return fail(Errc::timeout, who(m_host) + ": no answer from the agent in time");
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            read_stderr();
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[65536];
            ssize_t r = ::read(m_child->stdout_fd(), buf, sizeof buf);
            if (r > 0) {
                m_out_buf.append(buf, static_cast<size_t>(r));
            } else if (r == 0) {
                m_eof = true;
            }
        }
    }
}

Status Session::write_all(std::string_view data, Deadline deadline) {
    while (!data.empty()) {
        ssize_t w = ::write(m_child->stdin_fd(), data.data(), data.size());
        if (w > 0) {
            data.remove_prefix(static_cast<size_t>(w));
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno != EAGAIN) {
            return fail(Errc::io, "the connection to " + who(m_host) + " broke off");
        }
        pollfd p[2] = {{m_child->stdin_fd(), POLLOUT, 0},
                       {m_cancel ? m_cancel->fd() : -1, POLLIN, 0}};
        int n = ::poll(p, 2, ms_until(deadline));
        if (m_cancel && m_cancel->cancelled()) {
            return fail(Errc::interrupted, who(m_host) + ": interrupted");
        }
        if (n == 0) {
            return fail(Errc::timeout, who(m_host) + ": the agent does not read its input");
        }
    }
    return {};
}

Status Session::drain(Deadline deadline) {
    for (;;) {
        auto line = read_line(deadline);
        if (!line && line.error().code() == Errc::io) {
            return {};  // end of output
        }
        if (!line) {
            return fail(line.error());
        }
    }
}

Error Session::ended() {
    if (m_err_open) {
        read_stderr();  // what ssh said before it went
    }
    int code = close(std::chrono::seconds(5));
    std::string reason = reason_of(m_err_buf);
    if (code == 255) {
        return Error(Errc::unreachable, who(m_host) + ": unreachable: " + reason);
    }
    if (reason.find("error while loading shared libraries") != std::string::npos) {
        return Error(Errc::unsupported,
                     who(m_host) + ": the shipshape agent cannot run there: " + reason +
                         " (the agent is this binary: the host needs the same libraries)");
    }
    return Error(Errc::io,
                 who(m_host) + ": the agent ended (exit " + std::to_string(code) + "): " + reason);
}

int Session::close(Millis grace) {
    if (!m_exit) {
        m_child->close_stdin();
        auto o = m_child->wait(grace, nullptr);
        m_exit = o.kind == os::ExitKind::exited ? o.code : -1;
    }
    return *m_exit;
}

}  // namespace shipshape::fleet
