#include "server/auth.hpp"

#include <algorithm>
#include <cctype>

namespace shipshape::server {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_token68_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

}  // namespace

std::optional<std::string_view> header_value(const Request& request, std::string_view name) {
    for (const auto& [k, v] : request.headers) {
        if (iequals(k, name)) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

size_t header_count(const Request& request, std::string_view name) {
    return static_cast<size_t>(
        std::count_if(request.headers.begin(), request.headers.end(),
                      [&](const auto& h) { return iequals(h.first, name); }));
}

std::optional<std::string> parse_bearer(std::string_view value) {
    constexpr std::string_view k_scheme = "Bearer";
    if (value.size() <= k_scheme.size() || !iequals(value.substr(0, k_scheme.size()), k_scheme) ||
        value[k_scheme.size()] != ' ') {
        return std::nullopt;
    }
    std::string_view token = value.substr(k_scheme.size());
    token.remove_prefix(std::min(token.find_first_not_of(' '), token.size()));
    size_t end = 0;
    while (end < token.size() && is_token68_char(token[end])) {
        ++end;
    }
    if (end == 0) {
        return std::nullopt;
    }
    while (end < token.size() && token[end] == '=') {
        ++end;
    }
    if (end != token.size()) {
        return std::nullopt;
    }
    return std::string(token);
}

FailureLimiter::FailureLimiter(FailureLimits limits) : m_limits(limits) {}

void FailureLimiter::prune(std::deque<int64_t>& stamps, int64_t now_ms) const {
    while (!stamps.empty() && stamps.front() + m_limits.window_ms <= now_ms) {
        stamps.pop_front();
    }
}

int64_t FailureLimiter::retry_after_s(const std::string& address, int64_t now_ms) {
    std::lock_guard lock(m_mutex);
    auto it = m_failures.find(address);
    if (it == m_failures.end()) {
        return 0;
    }
    prune(it->second, now_ms);
    if (it->second.empty()) {
        m_failures.erase(it);
        return 0;
    }
    if (static_cast<int>(it->second.size()) < m_limits.max_failures) {
        return 0;
    }
    const int64_t wait_ms = it->second.front() + m_limits.window_ms - now_ms;
    return std::max<int64_t>(1, (wait_ms + 999) / 1000);
}

void FailureLimiter::record_failure(const std::string& address, int64_t now_ms) {
    std::lock_guard lock(m_mutex);
    auto& stamps = m_failures[address];
    prune(stamps, now_ms);
    stamps.push_back(now_ms);
    // Only the newest max_failures stamps decide anything.
    while (static_cast<int>(stamps.size()) > m_limits.max_failures) {
        stamps.pop_front();
    }
    if (m_failures.size() <= m_limits.max_addresses) {
        return;
    }
    // Over the bound: forget every address whose failures all left the window, then, if still
    // over, the address (never this one) whose last failure is oldest.
    for (auto it = m_failures.begin(); it != m_failures.end();) {
        prune(it->second, now_ms);
        it = it->second.empty() ? m_failures.erase(it) : std::next(it);
    }
    while (m_failures.size() > m_limits.max_addresses) {
        auto oldest = m_failures.end();
        for (auto it = m_failures.begin(); it != m_failures.end(); ++it) {
            if (it->first != address &&
                (oldest == m_failures.end() || it->second.back() < oldest->second.back())) {
                oldest = it;
            }
        }
        if (oldest == m_failures.end()) {
            break;
        }
        m_failures.erase(oldest);
    }
}

size_t FailureLimiter::tracked() const {
    std::lock_guard lock(m_mutex);
    return m_failures.size();
}

}  // namespace shipshape::server
