#include "state/model.hpp"

#include <algorithm>
#include <charconv>

#include "core/text.hpp"

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
        case Kind::service:
            return "service";
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
        case Kind::service:
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

bool Resource::answers_to(const std::string& ref) const {
    if (kind == Kind::command || kind == Kind::service) {
        return false;
    }
    return ref == label() || (kind == Kind::line && ref == "line " + path);
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

namespace {

bool is_control(char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), is_control);
}

}  // namespace

std::string quote_value(std::string_view value) {
    return "\"" + escape_control(value) + "\"";
}

std::string path_rule(std::string_view value) {
    if (has_control(value)) {
        return "must not contain control characters (NUL, newline, ...), found " +
               quote_value(value);
    }
    if (value.empty() || value.front() != '/') {
        return "must be an absolute path, found " + quote_value(value);
    }
    if (value == "/") {
        return "must not be the root directory";
    }
    if (!is_normalized_absolute(value)) {
        return "must be a normalized path (no '.', '..', '//' or trailing '/'), found " +
               quote_value(value);
    }
    return {};
}

std::string line_rule(std::string_view value) {
    if (value.find_first_of(std::string_view("\n\r\0", 3)) != std::string_view::npos) {
        return "must be a single line (no newline, carriage return or NUL)";
    }
    return {};
}

std::string account_name_rule(std::string_view value) {
    bool ok = !value.empty() && value.size() <= 32 && value.front() != '-' &&
              std::all_of(value.begin(), value.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
              });
    return ok ? std::string() : quote_value(value) + " is not a valid user or group name";
}

std::string package_name_rule(std::string_view value) {
    bool ok = value.size() >= 2 && std::all_of(value.begin(), value.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
                         c == '.';
              });
    return ok ? std::string() : quote_value(value) + " is not a valid Debian package name";
}

std::string package_version_rule(std::string_view value) {
    if (value.empty()) {
        return "must not be empty (use \"present\")";
    }
    bool ok = std::all_of(value.begin(), value.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '+' || c == '~' || c == ':' || c == '-';
    });
    return ok ? std::string()
              : "must be \"present\", \"latest\", \"absent\" or a Debian version (letters, "
                "digits and . + ~ : -), found " +
                    quote_value(value);
}

std::string unit_name_rule(std::string_view value) {
    static constexpr std::string_view k_suffixes[] = {
        ".service", ".socket", ".timer", ".target", ".path", ".mount", ".automount", ".slice"};
    bool chars = !value.empty() && value.size() <= 255 && value.front() != '-' &&
                 std::all_of(value.begin(), value.end(), [](char c) {
                     return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '.' ||
                            c == '@' || c == '-' || c == '\\';
                 });
    bool suffix = std::any_of(std::begin(k_suffixes), std::end(k_suffixes), [&](auto sfx) {
        return value.size() > sfx.size() &&
               value.compare(value.size() - sfx.size(), sfx.size(), sfx) == 0;
    });
    return chars && suffix ? std::string()
                           : quote_value(value) +
                                 " is not a systemd unit name (like \"booking.service\": "
                                 "letters, digits and : _ . @ - \\, with a unit type suffix)";
}

std::string link_target_rule(std::string_view value) {
    if (value.empty()) {
        return "must not be empty";
    }
    if (has_control(value)) {
        return "must not contain control characters (NUL, newline, ...), found " +
               quote_value(value);
    }
    return {};
}

std::string account_path_rule(std::string_view value) {
    if (value.empty() || value.front() != '/' || has_control(value) ||
        value.find(':') != std::string_view::npos) {
        return "must be an absolute path without ':' or control characters, found " +
               quote_value(value);
    }
    return {};
}

std::string argv_word_rule(std::string_view value) {
    if (value.find('\0') != std::string_view::npos) {
        return "must not contain a NUL byte (the command would stop there), found " +
               quote_value(value);
    }
    return {};
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
