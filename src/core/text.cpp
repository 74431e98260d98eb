#include "core/text.hpp"

namespace shipshape {

namespace {
constexpr char k_digits[] = "0123456789abcdef";
}  // namespace

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

}  // namespace shipshape
