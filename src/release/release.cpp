#include "release/release.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace shipshape::release {

namespace {

// One line per field: '\' and line breaks escaped, so no value can forge another line.
std::string one_line(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += c;
        }
    }
    return out;
}

void field(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += one_line(value);
    out += '\n';
}

std::string changed_file(std::string_view what, const HashedFile& a, const HashedFile& b) {
    if (a.path != b.path) {
        return std::string(what) + " changed: " + a.path + " → " + b.path;
    }
    return std::string(what) + " changed: " + a.path + " sha256 " + short_hash(a.sha256) + " → " +
           short_hash(b.sha256);
}

}  // namespace

std::string short_hash(std::string_view hex) {
    if (hex.size() <= 12) {
        return std::string(hex);
    }
    return std::string(hex.substr(0, 12)) + "…";
}

bool valid_release_name(std::string_view name) {
    if (name.empty() || name.size() > 128) {
        return false;
    }
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (!alnum(name.front())) {
        return false;
    }
    for (char c : name) {
        if (!alnum(c) && c != '.' && c != '-' && c != '_' && c != '+' && c != '~') {
            return false;
        }
    }
    return true;
}

std::vector<std::string> describe_changes(const ReleaseDocument& before,
                                          const ReleaseDocument& now) {
    std::vector<std::string> out;
    if (before.name != now.name) {
        out.push_back("name changed: " + before.name + " → " + now.name);
    }
    if (!(before.checklist == now.checklist)) {
        out.push_back(changed_file("checklist", before.checklist, now.checklist));
    }
    for (const auto& [k, v] : before.params) {
        auto it = std::find_if(now.params.begin(), now.params.end(),
                               [&k = k](const auto& p) { return p.first == k; });
        if (it == now.params.end()) {
            out.push_back("param " + k + " removed (was '" + v + "')");
        } else if (it->second != v) {
            out.push_back("param " + k + " changed: '" + v + "' → '" + it->second + "'");
        }
    }
    for (const auto& [k, v] : now.params) {
        auto it = std::find_if(before.params.begin(), before.params.end(),
                               [&k = k](const auto& p) { return p.first == k; });
        if (it == before.params.end()) {
            out.push_back("param " + k + " added ('" + v + "')");
        }
    }
    if (before.requirements != now.requirements) {
        if (!before.requirements) {
            out.push_back("requirements added: " + now.requirements->path);
        } else if (!now.requirements) {
            out.push_back("requirements removed: " + before.requirements->path);
        } else {
            out.push_back(changed_file("requirements", *before.requirements, *now.requirements));
        }
    }
    auto find_path = [](const auto& list, const std::string& path) {
        return std::find_if(list.begin(), list.end(),
                            [&path](const auto& x) { return x.path == path; });
    };
    for (const auto& f : before.state) {
        auto it = find_path(now.state, f.path);
        if (it == now.state.end()) {
            out.push_back("state file removed: " + f.path);
        } else if (it->sha256 != f.sha256) {
            out.push_back(changed_file("state file", f, *it));
        }
    }
    for (const auto& f : now.state) {
        if (find_path(before.state, f.path) == before.state.end()) {
            out.push_back("state file added: " + f.path);
        }
    }
    for (const auto& p : before.packages) {
        auto it = find_path(now.packages, p.path);
        if (it == now.packages.end()) {
            out.push_back("package removed: " + p.path);
        } else if (it->sha256 != p.sha256 || it->manifest_sha256 != p.manifest_sha256) {
            std::string what = it->version != p.version
                                   ? " (version " + p.version + " → " + it->version + ")"
                                   : "";
            out.push_back("package changed: " + p.path + " sha256 " + short_hash(p.sha256) + " → " +
                          short_hash(it->sha256) + what);
        }
    }
    for (const auto& p : now.packages) {
        if (find_path(before.packages, p.path) == before.packages.end()) {
            out.push_back("package added: " + p.path);
        }
    }
    return out;
}

std::string iso_time(int64_t ms) {
    std::time_t secs = ms / 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
    return out;
}

std::string signoff_message(const SignOff& s) {
    std::string out = "shipshape-signoff/1\n";
    field(out, "release", s.release_id);
    field(out, "name", s.release_name);
    field(out, "stage", s.stage);
    field(out, "role", s.role);
    field(out, "at", std::to_string(s.at));
    field(out, "note", s.note);
    return out;
}

std::string checkoff_message(const SignedCheckOff& c) {
    std::string out = "shipshape-checkoff/1\n";
    field(out, "run", c.run_id);
    field(out, "step", c.step_id);
    field(out, "role", c.role);
    field(out, "checklist", c.checklist_sha256);
    field(out, "at", std::to_string(c.at));
    field(out, "note", c.note);
    return out;
}

}  // namespace shipshape::release
