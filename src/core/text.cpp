#include "core/text.hpp"

namespace shipshape {

namespace {

constexpr char k_digits[] = "0123456789abcdef";

// One decoded UTF-8 sequence: its code point and length, or length 0 when the bytes at the
// start of `s` are not a valid, shortest-form sequence (surrogates and > U+10FFFF included).
struct Decoded {
    char32_t code = 0;
    size_t length = 0;
};

Decoded decode_utf8(std::string_view s) {
    const auto b0 = static_cast<unsigned char>(s[0]);
    if (b0 < 0x80) {
        return {b0, 1};
    }
    size_t length = 0;
    char32_t code = 0;
    char32_t min = 0;
    if ((b0 & 0xe0U) == 0xc0) {
        length = 2;
        code = b0 & 0x1fU;
        min = 0x80;
    } else if ((b0 & 0xf0U) == 0xe0) {
        length = 3;
        code = b0 & 0x0fU;
        min = 0x800;
    } else if ((b0 & 0xf8U) == 0xf0) {
        length = 4;
        code = b0 & 0x07U;
        min = 0x10000;
    } else {
        return {};
    }
    if (s.size() < length) {
        return {};
    }
    for (size_t i = 1; i < length; ++i) {
        const auto b = static_cast<unsigned char>(s[i]);
        if ((b & 0xc0U) != 0x80) {
            return {};
        }
        code = (code << 6U) | (b & 0x3fU);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
        return {};
    }
    return {code, length};
}

bool is_control(char32_t c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 || c == 0x200e ||
           c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

std::string code_point(char32_t c) {
    std::string hex;
    for (; c != 0 || hex.size() < 4; c >>= 4U) {
        hex.insert(hex.begin(), k_digits[c & 0xfU]);
    }
    for (auto& h : hex) {
        h = static_cast<char>(h >= 'a' ? h - 'a' + 'A' : h);
    }
    return hex;
}

std::string byte_hex(unsigned char b) {
    return std::string{k_digits[b >> 4U], k_digits[b & 0xfU]};
}

}  // namespace

std::string find_control_character(std::string_view s, LineBreaks breaks) {
    size_t character = 1;
    for (size_t i = 0; i < s.size(); ++character) {
        Decoded d = decode_utf8(s.substr(i));
        if (d.length == 0) {
            return "byte " + std::to_string(i + 1) + " is not valid UTF-8 (0x" +
                   byte_hex(static_cast<unsigned char>(s[i])) + ")";
        }
        const bool line_break = d.code == '\n' || d.code == '\t';
        if (is_control(d.code) && !(line_break && breaks == LineBreaks::allowed)) {
            return "character " + std::to_string(character) + " is a control character (U+" +
                   code_point(d.code) + ")";
        }
        i += d.length;
    }
    return "";
}

std::string escape_control(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        Decoded d = decode_utf8(s.substr(i));
        if (d.length == 0) {
            out += "\\x" + byte_hex(static_cast<unsigned char>(s[i]));
            ++i;
            continue;
        }
        if (!is_control(d.code)) {
            out.append(s, i, d.length);
        } else if (d.code == '\n') {
            out += "\\n";
        } else if (d.code == '\t') {
            out += "\\t";
        } else if (d.code == '\r') {
            out += "\\r";
        } else if (d.code < 0x80) {
            out += "\\x" + byte_hex(static_cast<unsigned char>(d.code));
        } else {
            out += "\\u{" + code_point(d.code) + "}";
        }
        i += d.length;
    }
    return out;
}

std::string shell_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '\'';
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    out += '\'';
    return out;
}

std::string hex64(uint64_t value) {
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i) {
        out[static_cast<size_t>(i)] = k_digits[value & 0xfU];
        value >>= 4U;
    }
    return out;
}

std::string to_hex(std::span<const unsigned char> bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) {
        out += k_digits[b >> 4U];
        out += k_digits[b & 0xfU];
    }
    return out;
}

bool is_valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const Decoded d = decode_utf8(s.substr(i));
        if (d.length == 0) {
            return false;
        }
        i += d.length;
    }
    return true;
}

std::string replace_invalid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const Decoded d = decode_utf8(s.substr(i));
        if (d.length == 0 || d.code == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, d.length));
            i += d.length;
        }
    }
    return out;
}

}  // namespace shipshape
