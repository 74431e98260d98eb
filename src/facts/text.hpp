// Small text helpers shared by the facts parsers (collect.cpp) and gatherers (gather.cpp);
// trim and is_blank come from core/text.hpp.
// Internal to the facts module: inline, allocation-free where possible, no I/O.
#pragma once

#include <array>
#include <charconv>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/text.hpp"

namespace shipshape::facts::detail {

// Splits off the next line of `rest`, without its newline.
inline std::string_view next_line(std::string_view& rest) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    return line;
}

// Splits off the next blank-separated field of `rest`; "" when there is none.
inline std::string_view next_field(std::string_view& rest) {
    while (!rest.empty() && is_blank(rest.front())) {
        rest.remove_prefix(1);
    }
    size_t end = 0;
    while (end < rest.size() && !is_blank(rest[end])) {
        ++end;
    }
    std::string_view field = rest.substr(0, end);
    rest.remove_prefix(end);
    return field;
}

// "dir/name" in one allocation.
inline std::string join(std::string_view dir, std::string_view name) {
    std::string out;
    out.reserve(dir.size() + 1 + name.size());
    out.append(dir).append("/").append(name);
    return out;
}

// The first N blank-separated fields of `line`; missing ones are "".
template <size_t N>
std::array<std::string_view, N> split_fields(std::string_view line) {
    std::array<std::string_view, N> fields;
    for (auto& field : fields) {
        field = next_field(line);
    }
    return fields;
}

template <typename T>
inline bool parse_number(std::string_view s, T& out, int base = 10) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// "key<sep>value" with both sides trimmed; false when `sep` is missing.
inline bool split_key(std::string_view line, char sep, std::string_view& key,
                      std::string_view& value) {
    size_t at = line.find(sep);
    if (at == std::string_view::npos) {
        return false;
    }
    key = trim(line.substr(0, at));
    value = trim(line.substr(at + 1));
    return true;
}

// os-release values follow shell quoting: '...' is literal, "..." knows \" \\ \$ \` escapes.
inline std::string unquote(std::string_view v) {
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
        return std::string(v.substr(1, v.size() - 2));
    }
    if (v.size() < 2 || v.front() != '"' || v.back() != '"') {
        return std::string(v);
    }
    v = v.substr(1, v.size() - 2);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size() &&
            std::string_view("\"\\$`").find(v[i + 1]) != std::string_view::npos) {
            ++i;
        }
        out += v[i];
    }
    return out;
}

// The kernel prints each 32-bit word of an address as a host-order integer, so the bytes come
// back by copying the parsed words in host order (the parser runs on the host that wrote them).
inline std::string decode_address(std::string_view hex) {
    size_t words = hex.size() / 8;
    if ((words != 1 && words != 4) || hex.size() % 8 != 0) {
        return {};
    }
    unsigned char bytes[16];
    for (size_t w = 0; w < words; ++w) {
        uint32_t word = 0;
        if (!parse_number(hex.substr(w * 8, 8), word, 16)) {
            return {};
        }
        std::memcpy(bytes + w * 4, &word, sizeof word);
    }
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(words == 1 ? AF_INET : AF_INET6, bytes, text, sizeof text) == nullptr) {
        return {};
    }
    return text;
}

// /proc/self/mounts writes space, tab, newline and backslash as \040, \011, \012, \134.
inline std::string decode_octal(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 4 <= s.size() &&
            std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                        s.begin() + static_cast<std::ptrdiff_t>(i) + 4,
                        [](char c) { return c >= '0' && c <= '7'; })) {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// Kernel file systems that describe no storage; listing them buries the disks.
inline constexpr std::string_view k_pseudo_fs[] = {
    "proc",    "sysfs",     "cgroup",     "cgroup2",     "devpts", "mqueue",
    "debugfs", "tracefs",   "securityfs", "pstore",      "bpf",    "configfs",
    "fusectl", "hugetlbfs", "autofs",     "binfmt_misc", "nsfs",   "rpc_pipefs"};

// Values at or above 2^62 are how cgroup v1 spells "no limit" (the page-rounded LONG_MAX).
inline constexpr uint64_t k_v1_unlimited = uint64_t{1} << 62;

// A cgroup path that leaves the namespace ("/../..") cannot be found below our mount.
inline std::string cgroup_dir(std::string_view base, std::string_view path) {
    std::string dir(base);
    path = trim(path);
    if (path.find("..") != std::string_view::npos) {
        return dir;
    }
    while (!path.empty() && path.front() == '/') {
        path.remove_prefix(1);
    }
    if (!path.empty()) {
        dir += '/';
        dir += path;
    }
    return dir;
}

// Reads `file` in the process's own cgroup directory, falling back to the controller's root:
// inside a container the path names the host's hierarchy, which the container sees as its root.
inline std::string read_cgroup_file(const std::function<std::string(const std::string&)>& read,
                                    std::string_view base, std::string_view path,
                                    const char* file) {
    std::string text = read(join(cgroup_dir(base, path), file));
    if (text.empty()) {
        text = read(join(base, file));
    }
    return std::string(trim(text));
}

}  // namespace shipshape::facts::detail
