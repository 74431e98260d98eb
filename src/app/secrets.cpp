#include "app/secrets.hpp"

#include <cstdio>
#include <cstdlib>

#include "core/redact.hpp"

namespace shipshape::app {

std::string json_string_body(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out;
}

std::vector<std::string> secret_values(const Project& project) {
    std::vector<std::string> out;
    for (const auto& name : project.config.secrets) {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr || *v == '\0') {
            continue;
        }
        out.emplace_back(v);
        std::string in_json = json_string_body(out.back());
        if (in_json != out.back()) {
            out.push_back(std::move(in_json));
        }
    }
    return out;
}

std::vector<std::string> short_secrets(const Project& project) {
    std::vector<std::string> out;
    for (const auto& name : project.config.secrets) {
        const char* v = std::getenv(name.c_str());
        if (v != nullptr && *v != '\0' &&
            std::string_view(v).size() < Redactor::k_min_safe_length) {
            out.push_back(name);
        }
    }
    return out;
}

}  // namespace shipshape::app
