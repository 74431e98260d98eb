#include "state/model.hpp"

#include <algorithm>
#include <charconv>

namespace shipshape::state {

std::string_view kind_name(Kind kind) {
    switch (kind) {
        case Kind::group:
            return "group";
        case Kind::user:
            return "user";
        case Kind::package:
            return "package";
        case Kind::directory:
            return "directory";
        case Kind::tree:
            return "tree";
        case Kind::file:
            return "file";
        case Kind::symlink:
            return "symlink";
        case Kind::line:
            return "line";
        case Kind::absent:
            return "absent";
        case Kind::command:
            return "command";
    }
    return "?";
}

bool Resource::is_path_kind() const {
    switch (kind) {
        case Kind::group:
        case Kind::user:
        case Kind::package:
        case Kind::command:
            return false;
        default:
            return true;
    }
}

std::string Resource::label() const {
    std::string out(kind_name(kind));
    out += ' ';
    if (kind == Kind::command) {
        for (size_t i = 0; i < run.size(); ++i) {
            out += (i ? " " : "") + run[i];
        }
    } else if (kind == Kind::line) {
        out += path + " \"" + line + "\"";
    } else {
        out += is_path_kind() ? path : name;
    }
    return out;
}

std::string Resource::key() const {
    if (is_path_kind()) {
        return path;
    }
    return std::string(kind_name(kind)) + ":" + (kind == Kind::command ? label() : name);
}

namespace {

int depth(const std::string& path) {
    return static_cast<int>(std::count(path.begin(), path.end(), '/'));
}

}  // namespace

void order_resources(std::vector<Resource>& resources) {
    std::stable_sort(resources.begin(), resources.end(), [](const Resource& a, const Resource& b) {
        if (a.kind != b.kind) {
            return a.kind < b.kind;
        }
        if (a.kind == Kind::directory || a.kind == Kind::tree) {
            return depth(a.path) < depth(b.path);
        }
        if (a.kind == Kind::absent) {
            return depth(a.path) > depth(b.path);
        }
        return false;
    });
}

bool is_normalized_absolute(std::string_view path) {
    if (path.size() < 2 || path.front() != '/' || path.back() == '/') {
        return false;
    }
    size_t start = 1;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        std::string_view part = path.substr(
            start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
    return true;
}

std::optional<unsigned> parse_mode(std::string_view text) {
    if (text.empty() || text.size() > 5) {
        return std::nullopt;
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
    if (ec != std::errc() || end != text.data() + text.size() || value > 07777) {
        return std::nullopt;
    }
    return value;
}

std::string format_mode(unsigned mode) {
    char buf[8];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, mode & 07777u, 8);
    std::string digits(buf, end);
    while (digits.size() < 4) {
        digits.insert(digits.begin(), '0');
    }
    return digits;
}

}  // namespace shipshape::state
