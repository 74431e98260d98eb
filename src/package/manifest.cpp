#include "package/manifest.hpp"

#include <algorithm>
#include <cstdio>

#include "core/text.hpp"
#include "state/hash.hpp"

namespace shipshape::package {

namespace {

struct TypeName {
    EntryType type;
    std::string_view name;
};
constexpr TypeName k_type_names[] = {
    {EntryType::file, "file"},        {EntryType::directory, "directory"},
    {EntryType::symlink, "symlink"},  {EntryType::hardlink, "hardlink"},
    {EntryType::char_device, "char"}, {EntryType::block_device, "block"},
    {EntryType::fifo, "fifo"},
};

// Control field names are case-insensitive (Debian Policy 5.1).
char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string_view entry_type_name(EntryType type) {
    for (const auto& t : k_type_names) {
        if (t.type == type) {
            return t.name;
        }
    }
    return "file";
}

std::optional<EntryType> parse_entry_type(std::string_view name) {
    for (const auto& t : k_type_names) {
        if (t.name == name) {
            return t.type;
        }
    }
    return std::nullopt;
}

std::string Manifest::field(std::string_view name) const {
    for (const auto& f : control) {
        if (f.name.size() == name.size() &&
            std::equal(f.name.begin(), f.name.end(), name.begin(),
                       [](char a, char b) { return lower(a) == lower(b); })) {
            return f.value;
        }
    }
    return {};
}

const Entry* Manifest::find(std::string_view path) const {
    auto it = std::lower_bound(files.begin(), files.end(), path,
                               [](const Entry& e, std::string_view p) { return e.path < p; });
    return it != files.end() && it->path == path ? &*it : nullptr;
}

std::vector<std::string> split_relations(std::string_view value) {
    std::vector<std::string> out;
    int depth = 0;  // commas inside "(...)" or "[...]" do not split (none are valid, but safe)
    std::string current;
    auto push = [&] {
        std::string t(trim(current));
        if (!t.empty()) {
            // Continuation lines: one space, as dpkg shows them.
            std::string flat;
            bool space = false;
            for (char c : t) {
                if (c == ' ' || c == '\t' || c == '\n') {
                    space = true;
                    continue;
                }
                if (space && !flat.empty()) {
                    flat += ' ';
                }
                space = false;
                flat += c;
            }
            out.push_back(std::move(flat));
        }
        current.clear();
    };
    for (char c : value) {
        if (c == '(' || c == '[') {
            ++depth;
        } else if ((c == ')' || c == ']') && depth > 0) {
            --depth;
        }
        if (c == ',' && depth == 0) {
            push();
        } else {
            current += c;
        }
    }
    push();
    return out;
}

uint64_t payload_size(const Manifest& manifest) {
    uint64_t total = 0;
    for (const auto& e : manifest.files) {
        if (e.type == EntryType::file) {
            total += e.size;
        }
    }
    return total;
}

std::string mode_text(uint32_t mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", mode & 07777U);
    return buf;
}

std::string manifest_sha256(const Manifest& manifest) {
    return state::sha256_hex(manifest_to_json(manifest));
}

std::optional<std::string> normalise_member(std::string_view member, std::string& why) {
    if (member.starts_with("/")) {
        why = "absolute path";
        return std::nullopt;
    }
    std::string out;
    size_t at = 0;
    while (at <= member.size()) {
        size_t slash = member.find('/', at);
        if (slash == std::string_view::npos) {
            slash = member.size();
        }
        std::string_view part = member.substr(at, slash - at);
        at = slash + 1;
        if (part.empty() || part == ".") {
            continue;
        }
        if (part == "..") {
            why = "'..' in the path";
            return std::nullopt;
        }
        out += '/';
        out += part;
    }
    return out.empty() ? std::string("/") : out;
}

}  // namespace shipshape::package
