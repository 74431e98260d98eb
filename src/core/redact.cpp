#include "core/redact.hpp"

#include <algorithm>

namespace shipshape {

Redactor::Redactor(std::vector<std::string> secrets) {
    for (auto& s : secrets) {
        if (!s.empty()) {
            m_secrets.push_back(std::move(s));
        }
    }
    std::sort(m_secrets.begin(), m_secrets.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    m_secrets.erase(std::unique(m_secrets.begin(), m_secrets.end()), m_secrets.end());
}

std::string Redactor::apply(std::string_view text) const {
    std::string out(text);
    for (const auto& secret : m_secrets) {
        size_t pos = 0;
        while ((pos = out.find(secret, pos)) != std::string::npos) {
            out.replace(pos, secret.size(), "***");
            pos += 3;
        }
    }
    return out;
}

}  // namespace shipshape
