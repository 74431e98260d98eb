// AuditDetail (audit.hpp): the JSON text of an entry's detail. Apart from the chain's hash
// (audit.cpp, OpenSSL), so that code that only builds entries (app/audit_entries.cpp, linked into
// the static agent) does not link the hasher.
#include <string>

#include "store/audit.hpp"

namespace shipshape::store {

namespace {

void add_json_string(std::string& out, std::string_view value) {
    static constexpr char k_hex[] = "0123456789abcdef";
    out += '"';
    for (char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += k_hex[c >> 4];
                    out += k_hex[c & 15];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

}  // namespace

void AuditDetail::key(std::string_view k) {
    if (m_text.size() > 1) {
        m_text += ',';
    }
    add_json_string(m_text, k);
    m_text += ':';
}

AuditDetail& AuditDetail::add(std::string_view k, std::string_view value) {
    key(k);
    add_json_string(m_text, value);
    return *this;
}

AuditDetail& AuditDetail::add(std::string_view k, int64_t value) {
    key(k);
    m_text += std::to_string(value);
    return *this;
}

AuditDetail& AuditDetail::add(std::string_view k,
                              const std::vector<std::pair<std::string, std::string>>& object) {
    key(k);
    m_text += '{';
    bool first = true;
    for (const auto& [name, value] : object) {
        if (!first) {
            m_text += ',';
        }
        first = false;
        add_json_string(m_text, name);
        m_text += ':';
        add_json_string(m_text, value);
    }
    m_text += '}';
    return *this;
}

AuditDetail& AuditDetail::add(std::string_view k, const std::vector<std::string>& array) {
    key(k);
    m_text += '[';
    for (size_t i = 0; i < array.size(); ++i) {
        if (i > 0) {
            m_text += ',';
        }
        add_json_string(m_text, array[i]);
    }
    m_text += ']';
    return *this;
}

}  // namespace shipshape::store
