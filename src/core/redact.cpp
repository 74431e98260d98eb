#include "core/redact.hpp"

#include <algorithm>
#include <cstring>

namespace shipshape {

namespace {

unsigned char byte_at(std::string_view text, size_t i) {
    return static_cast<unsigned char>(text[i]);
}

}  // namespace

Redactor::Redactor(std::vector<std::string> secrets) {
    for (auto& s : secrets) {
        if (!s.empty()) {
            m_secrets.push_back(std::move(s));
        }
    }
    // Grouped by first byte, longest first within a group: match_at takes the first hit.
    std::sort(m_secrets.begin(), m_secrets.end(), [](const std::string& a, const std::string& b) {
        if (a.front() != b.front()) {
            return static_cast<unsigned char>(a.front()) < static_cast<unsigned char>(b.front());
        }
        if (a.size() != b.size()) {
            return a.size() > b.size();
        }
        return a < b;
    });
    m_secrets.erase(std::unique(m_secrets.begin(), m_secrets.end()), m_secrets.end());
    for (size_t k = 0; k < m_secrets.size(); ++k) {
        const std::string& s = m_secrets[k];
        const auto first = static_cast<unsigned char>(s.front());
        if (!m_starts[first]) {
            m_starts[first] = true;
            m_first_start = first;
            ++m_start_count;
            m_by_first[first].first = static_cast<uint32_t>(k);
        }
        m_by_first[first].second = static_cast<uint32_t>(k + 1);
        for (char c : s) {
            m_in_secret[static_cast<unsigned char>(c)] = true;
        }
        m_longest = std::max(m_longest, s.size());
    }
}

size_t Redactor::short_secrets() const {
    return static_cast<size_t>(std::count_if(m_secrets.begin(), m_secrets.end(), [](const auto& s) {
        return s.size() < k_min_safe_length;
    }));
}

size_t Redactor::match_at(std::string_view text, size_t pos) const {
    const auto [begin, end] = m_by_first[byte_at(text, pos)];
    const size_t room = text.size() - pos;
    for (uint32_t k = begin; k < end; ++k) {
        const std::string& s = m_secrets[k];
        if (s.size() <= room && std::memcmp(text.data() + pos, s.data(), s.size()) == 0) {
            return s.size();
        }
    }
    return 0;
}

size_t Redactor::redact_prefix(std::string_view text, size_t& covered, bool at_end,
                               std::string& out) const {
    const size_t n = text.size();
    // Occurrences may start only before `limit`: every one of them lies wholly inside `text`.
    size_t limit = n;
    if (!at_end) {
        limit = n > m_longest - 1 ? n - (m_longest - 1) : 0;
        // No secret contains text[j - 1]: no occurrence spans it, so all before it is decided.
        for (size_t j = n; j > limit; --j) {
            if (!m_in_secret[byte_at(text, j - 1)]) {
                limit = j;
                break;
            }
        }
    }
    size_t run_end = covered;  // bytes before this belong to the current "***"
    size_t emitted = covered;  // bytes before this are written (as themselves or masked)
    for (size_t i = 0; i < limit; ++i) {
        if (m_start_count == 1) {  // one byte starts every secret: memchr skips to it
            const void* hit = std::memchr(text.data() + i, m_first_start, limit - i);
            if (hit == nullptr) {
                break;
            }
            i = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
        } else if (!m_starts[byte_at(text, i)]) {
            continue;
        }
        const size_t len = match_at(text, i);
        if (len == 0) {
            continue;
        }
        if (i >= run_end) {  // touches or follows the previous occurrence: a new mask
            out.append(text.substr(emitted, i - emitted));
            out.append(k_mask);
        }
        run_end = std::max(run_end, i + len);
        emitted = run_end;
    }
    if (run_end > limit) {
        // An occurrence reaches into the undecided tail: the tail is masked already, and an
        // occurrence starting inside it would still belong to the same "***".
        covered = run_end - limit;
        return limit;
    }
    out.append(text.substr(emitted, limit - emitted));
    covered = 0;
    return limit;
}

std::string Redactor::apply(std::string_view text) const {
    if (empty()) {
        return std::string(text);
    }
    std::string out;
    out.reserve(text.size());
    size_t covered = 0;
    redact_prefix(text, covered, true, out);
    return out;
}

void Redactor::apply_in_place(std::string& text) const {
    if (empty()) {
        return;
    }
    for (size_t i = 0; i < text.size(); ++i) {
        if (m_starts[byte_at(text, i)] && match_at(text, i) != 0) {
            text = apply(text);
            return;
        }
    }
}

void StreamRedactor::feed(std::string_view chunk, std::string& out) {
    if (m_redactor.empty()) {
        out.append(chunk);
        return;
    }
    if (m_tail.empty()) {  // the usual case: no copy of the chunk
        const size_t used = m_redactor.redact_prefix(chunk, m_covered, false, out);
        m_tail.assign(chunk.substr(used));
        return;
    }
    m_tail.append(chunk);
    const size_t used = m_redactor.redact_prefix(m_tail, m_covered, false, out);
    m_tail.erase(0, used);
}

void StreamRedactor::finish(std::string& out) {
    if (!m_tail.empty()) {
        m_redactor.redact_prefix(m_tail, m_covered, true, out);
    }
    m_tail.clear();
    m_covered = 0;
}

}  // namespace shipshape
