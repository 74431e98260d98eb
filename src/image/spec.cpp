#include "image/spec.hpp"

#include <cstdio>
#include <map>

#include "core/size.hpp"

namespace shipshape::image {

namespace {

std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

std::string key(std::string_view s) {
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return quoted(s);
        }
    }
    return std::string(s);
}

std::string string_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) {
        out += (i ? ", " : "") + quoted(items[i]);
    }
    return out + "]";
}

// One line of comment text: no newline can end the comment early.
std::string comment(std::string_view s) {
    std::string out;
    for (char c : s) {
        out += (c == '\n' || c == '\r') ? ' ' : c;
    }
    return out;
}

}  // namespace

bool valid_image_name(std::string_view name) {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'))) {
        return false;
    }
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.')) {
            return false;
        }
    }
    return true;
}

std::string render_spec(const Spec& spec, const std::vector<std::string>& header,
                        const std::vector<Dissent>& dissents) {
    std::string out;
    for (const auto& h : header) {
        out += "# " + comment(h) + "\n";
    }
    out += "[image]\n";
    out += "name = " + quoted(spec.name) + "\n";
    out += "distribution = " + quoted(spec.distribution) + "\n";
    out += "release = " + quoted(spec.release) + "\n";
    out += "architecture = " + quoted(spec.architecture) + "\n";
    out += "variant = " + quoted(spec.variant) + "\n";
    out += std::string("lab = ") + (spec.lab ? "true" : "false") +
           "  # also install openssh-server and the libraries shipshape's agent needs\n";
    if (!spec.sources.empty()) {
        out += "sources = " + string_list(spec.sources) + "\n";
    }
    out += "roles = " + string_list(spec.roles) + "\n";
    if (!spec.hosts.empty() || !spec.taken.empty()) {
        out += "\n[snapshot]\nhosts = " + string_list(spec.hosts) + "\n";
        out += "taken = " + quoted(spec.taken) + "\n";
    }
    if (spec.limits.memory_bytes || spec.limits.cpus || spec.limits.open_files) {
        out += "\n[limits]\n";
        if (spec.limits.memory_bytes) {
            out += "memory = " + quoted(format_size(*spec.limits.memory_bytes)) + "\n";
        }
        if (spec.limits.cpus) {
            char buf[32];
            double c = *spec.limits.cpus;
            if (c == static_cast<double>(static_cast<int64_t>(c))) {
                std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(c));
            } else {
                std::snprintf(buf, sizeof buf, "%.3g", c);
            }
            out += std::string("cpus = ") + buf + "\n";
        }
        if (spec.limits.open_files) {
            out += "open_files = " + std::to_string(*spec.limits.open_files) + "\n";
        }
    }
    for (const auto& u : spec.users) {
        out += "\n[[user]]\nname = " + quoted(u.name) + "\n";
        if (u.uid) {
            out += "uid = " + std::to_string(*u.uid) + "\n";
        }
        if (u.gid) {
            out += "gid = " + std::to_string(*u.gid) + "\n";
        }
        if (!u.home.empty()) {
            out += "home = " + quoted(u.home) + "\n";
        }
        if (!u.shell.empty()) {
            out += "shell = " + quoted(u.shell) + "\n";
        }
    }
    std::map<std::string, const Dissent*> by_package;
    for (const auto& d : dissents) {
        by_package[d.package] = &d;
    }
    out += "\n[packages]\n";
    for (const auto& p : spec.packages) {
        std::string name = p.architecture.empty() ? p.name : p.name + ":" + p.architecture;
        if (auto it = by_package.find(name); it != by_package.end()) {
            std::string note = "# hosts disagree:";
            for (const auto& [host, version] : it->second->others) {
                note += " " + host + " has " + version + ";";
            }
            note.pop_back();
            out += comment(note) + "\n";
        }
        out += key(name) + " = " + quoted(p.version) + "\n";
        by_package.erase(name);
    }
    // Packages only a minority of the hosts have: not pinned, named for the reader.
    for (const auto& [name, d] : by_package) {
        std::string note = "# not pinned (most hosts lack it): " + name + ":";
        for (const auto& [host, version] : d->others) {
            note += " " + host + " has " + version + ";";
        }
        note.pop_back();
        out += comment(note) + "\n";
    }
    return out;
}

}  // namespace shipshape::image
