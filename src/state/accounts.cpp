#include "state/accounts.hpp"

#include <atomic>
#include <charconv>
#include <string_view>
#include <vector>

#include "os/file_system.hpp"

namespace shipshape::state {

namespace {

std::vector<std::string_view> split_colon(std::string_view line) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        size_t c = line.find(':', start);
        out.push_back(line.substr(start, c == std::string_view::npos ? line.npos : c - start));
        if (c == std::string_view::npos) {
            return out;
        }
        start = c + 1;
    }
}

// The lines of `text`, without their newlines.
std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        out.push_back(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }
    return out;
}

std::optional<uint32_t> to_id(std::string_view s) {
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

}  // namespace

namespace {

std::atomic<std::optional<PasswdEntry> (*)(const std::string&)> g_nss_user{nullptr};
std::atomic<std::optional<uint32_t> (*)(const std::string&)> g_nss_group{nullptr};

}  // namespace

void set_nss_lookups(std::optional<PasswdEntry> (*user)(const std::string&),
                     std::optional<uint32_t> (*group)(const std::string&)) {
    g_nss_user = user;
    g_nss_group = group;
}

std::optional<PasswdEntry> nss_user(const std::string& name) {
    auto* f = g_nss_user.load();
    return f ? f(name) : std::nullopt;
}

std::optional<uint32_t> nss_group(const std::string& name) {
    auto* f = g_nss_group.load();
    return f ? f(name) : std::nullopt;
}

IdMap read_ids(const std::string& passwd_path, const std::string& group_path, bool use_nss) {
    // Missing files give empty maps.
    return parse_ids(os::read_whole_file(passwd_path).value_or(std::string()),
                     os::read_whole_file(group_path).value_or(std::string()), use_nss);
}

IdMap parse_ids(std::string_view passwd, std::string_view group, bool use_nss) {
    IdMap ids;
    ids.nss = use_nss;
    for (std::string_view line : lines_of(passwd)) {
        auto f = split_colon(line);
        if (f.size() < 7 || f[0].empty() || f[0][0] == '#') {
            continue;
        }
        auto uid = to_id(f[2]);
        auto gid = to_id(f[3]);
        if (!uid || !gid) {
            continue;
        }
        std::string name(f[0]);
        ids.users[name] = PasswdEntry{*uid, *gid, std::string(f[5]), std::string(f[6])};
        ids.user_names.emplace(*uid, name);
    }
    for (std::string_view line : lines_of(group)) {
        auto f = split_colon(line);
        if (f.size() < 3 || f[0].empty() || f[0][0] == '#') {
            continue;
        }
        if (auto gid = to_id(f[2])) {
            std::string name(f[0]);
            ids.groups[name] = *gid;
            ids.group_names.emplace(*gid, name);
        }
    }
    return ids;
}

std::optional<uint32_t> IdMap::uid(const std::string& name) const {
    if (auto u = user(name)) {
        return u->uid;
    }
    return std::nullopt;
}

std::optional<PasswdEntry> IdMap::user(const std::string& name) const {
    auto it = users.find(name);
    if (it != users.end()) {
        return it->second;
    }
    return nss ? nss_user(name) : std::nullopt;
}

std::optional<uint32_t> IdMap::gid(const std::string& name) const {
    auto it = groups.find(name);
    if (it != groups.end()) {
        return it->second;
    }
    return nss ? nss_group(name) : std::nullopt;
}

std::string IdMap::user_name(uint32_t id) const {
    auto it = user_names.find(id);
    return it == user_names.end() ? std::to_string(id) : it->second;
}

std::string IdMap::group_name(uint32_t id) const {
    auto it = group_names.find(id);
    return it == group_names.end() ? std::to_string(id) : it->second;
}

}  // namespace shipshape::state
