#include "package/read.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <thread>

#include "core/text.hpp"
#include "os/errno_error.hpp"
#include "os/fan_out.hpp"
#include "os/file_system.hpp"

namespace shipshape::package {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

}  // namespace

Status parse_control_file(std::string_view text, std::string_view where, Manifest& m) {
    size_t at = 0;
    int line_no = 0;
    while (at < text.size()) {
        size_t nl = text.find('\n', at);
        std::string_view line =
            text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
        at = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (trim(line).empty()) {
            continue;  // a blank line ends the (only) paragraph; nothing follows in practice
        }
        if (is_space(line.front())) {
            if (m.control.empty()) {
                return fail(Errc::invalid_definition, std::string(where) + ": line " +
                                                          std::to_string(line_no) +
                                                          ": a continuation line before any field");
            }
            m.control.back().value += '\n';
            m.control.back().value += line;
            continue;
        }
        if (line.front() == '#') {
            continue;
        }
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            return fail(Errc::invalid_definition, std::string(where) + ": line " +
                                                      std::to_string(line_no) +
                                                      ": expected 'Name: value'");
        }
        m.control.push_back(
            {std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1)))});
    }
    m.package = m.field("Package");
    m.version = m.field("Version");
    m.architecture = m.field("Architecture");
    m.relations.clear();
    for (auto field : k_relation_fields) {
        for (const auto& f : m.control) {
            if (f.name.size() == field.size() &&
                std::equal(f.name.begin(), f.name.end(), field.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) ==
                           std::tolower(static_cast<unsigned char>(b));
                })) {
                auto list = split_relations(f.value);
                if (!list.empty()) {
                    m.relations[std::string(field)] = std::move(list);
                }
            }
        }
    }
    return {};
}

std::vector<std::string> parse_conffiles_list(std::string_view text) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < text.size()) {
        size_t nl = text.find('\n', at);
        std::string_view line =
            trim(text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at));
        at = nl == std::string_view::npos ? text.size() : nl + 1;
        if (line.empty()) {
            continue;
        }
        // dpkg ≥ 1.20 allows flags before the path ("remove-on-upgrade /etc/x").
        size_t slash = line.find('/');
        size_t space = line.find_last_of(" \t");
        if (space != std::string_view::npos && (slash == std::string_view::npos || slash > space)) {
            line = trim(line.substr(space + 1));
        } else if (slash != std::string_view::npos && slash > 0 && is_space(line[slash - 1])) {
            line = line.substr(slash);
        }
        out.emplace_back(line);
    }
    return out;
}

std::string symlink_escape(std::string_view path, std::string_view target) {
    if (target.starts_with("/")) {
        return {};
    }
    // Depth of the symlink's directory below the root: "/usr/lib/x" lives at depth 2.
    long depth = std::count(path.begin(), path.end(), '/') - 1;
    size_t at = 0;
    while (at <= target.size()) {
        size_t slash = target.find('/', at);
        if (slash == std::string_view::npos) {
            slash = target.size();
        }
        std::string_view part = target.substr(at, slash - at);
        at = slash + 1;
        if (part.empty() || part == ".") {
            continue;
        }
        if (part == "..") {
            if (--depth < 0) {
                return "symlink target '" + std::string(target) + "' escapes the root";
            }
        } else {
            ++depth;
        }
    }
    return {};
}

Conffile make_conffile(std::string path, std::string sha256, uint64_t size,
                       const std::string* content) {
    Conffile c;
    c.path = std::move(path);
    c.sha256 = std::move(sha256);
    c.size = size;
    if (content && size <= k_max_inline_conffile && content->size() == size &&
        is_valid_utf8(*content)) {
        c.content = *content;
    }
    return c;
}

void sort_manifest(Manifest& m) {
    std::vector<size_t> order(m.files.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return m.files[a].path < m.files[b].path; });
    std::vector<Entry> sorted;
    sorted.reserve(m.files.size());
    for (size_t i = 0; i < order.size(); ++i) {
        bool last_of_path =
            i + 1 == order.size() || m.files[order[i + 1]].path != m.files[order[i]].path;
        if (last_of_path) {
            sorted.push_back(std::move(m.files[order[i]]));
        }
    }
    m.files = std::move(sorted);
    std::sort(m.conffiles.begin(), m.conffiles.end(),
              [](const Conffile& a, const Conffile& b) { return a.path < b.path; });
}

}  // namespace shipshape::package
