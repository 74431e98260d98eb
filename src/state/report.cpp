// Host state reports and the environment comparison (see report.hpp).
#include "state/report.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "core/text.hpp"
#include "facts/diff.hpp"
#include "state/accounts.hpp"
#include "state/hash.hpp"
#include "state/plan.hpp"

namespace shipshape::state {

namespace {

using json = nlohmann::json;

std::string owner_of(const struct stat& st, const IdMap& ids) {
    return ids.user_name(st.st_uid) + ":" + ids.group_name(st.st_gid);
}

// A digest of a whole tree: every entry's relative path, type, mode and content hash, in
// sorted order, through SHA-256.
void tree_lines(const std::string& dir, const std::string& rel, std::vector<std::string>& out) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        return;
    }
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") {
            names.push_back(n);
        }
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
        std::string p = dir + "/" + n;
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) {
            continue;
        }
        std::string line = rel + "/" + n + " " + format_mode(st.st_mode & 07777) + " ";
        if (S_ISDIR(st.st_mode)) {
            out.push_back(line + "dir");
            tree_lines(p, rel + "/" + n, out);
        } else if (S_ISREG(st.st_mode)) {
            auto h = xxh3_file(p);
            out.push_back(line + hex64(h ? h->hi : 0) + hex64(h ? h->lo : 0));
        } else if (S_ISLNK(st.st_mode)) {
            std::string target(4096, '\0');
            ssize_t len = ::readlink(p.c_str(), target.data(), target.size());
            target.resize(len > 0 ? static_cast<size_t>(len) : 0);
            out.push_back(line + "-> " + target);
        }
    }
}

ManagedPath describe_path(const Resource& r, const std::string& root, const IdMap& ids) {
    ManagedPath m;
    std::string p = real_path(root, r.path);
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
        m.kind = "missing";
        return m;
    }
    m.owner = owner_of(st, ids);
    if (S_ISLNK(st.st_mode)) {
        m.kind = "symlink";
        std::string target(4096, '\0');
        ssize_t len = ::readlink(p.c_str(), target.data(), target.size());
        target.resize(len > 0 ? static_cast<size_t>(len) : 0);
        m.sha256 = sha256_hex(target);
        return m;
    }
    m.mode = format_mode(st.st_mode & 07777);
    if (S_ISDIR(st.st_mode)) {
        m.kind = r.kind == Kind::tree ? "tree" : "directory";
        if (r.kind == Kind::tree) {
            std::vector<std::string> lines;
            tree_lines(p, "", lines);
            std::string all;
            for (const auto& l : lines) {
                all += l + "\n";
            }
            m.sha256 = sha256_hex(all);
        }
        return m;
    }
    m.kind = "file";
    if (auto h = sha256_file(p)) {
        m.sha256 = *h;
    }
    return m;
}

}  // namespace

HostState describe_host(const std::string& host, const std::string& env,
                        const std::vector<std::string>& roles,
                        const std::vector<std::string>& state_files,
                        const std::vector<Resource>& resources, const std::string& root,
                        const facts::HostFacts* facts) {
    HostState s;
    s.host = host;
    s.env = env;
    s.source = "live";
    s.roles = roles;
    s.state_files = state_files;
    IdMap ids =
        read_ids(real_path(root, "/etc/passwd"), real_path(root, "/etc/group"), root == "/");
    for (const auto& r : resources) {
        if (r.is_path_kind() && !s.paths.count(r.path)) {
            s.paths[r.path] = describe_path(r, root, ids);
        }
    }
    if (facts) {
        s.has_facts = true;
        s.kernel = facts->os.kernel;
        s.os = facts::os_label(facts->os);
        for (const auto& p : facts->packages) {
            if (p.status == "installed") {
                s.packages[p.name] = p.version;
            }
        }
    }
    return s;
}

std::string host_state_to_json(const HostState& s) {
    json paths = json::object();
    for (const auto& [path, m] : s.paths) {
        paths[path] = {
            {"kind", m.kind}, {"sha256", m.sha256}, {"mode", m.mode}, {"owner", m.owner}};
    }
    json doc = {{"schema", "shipshape.host-state/1"},
                {"host", s.host},
                {"env", s.env},
                {"roles", s.roles},
                {"states", s.state_files},
                {"paths", paths}};
    if (s.drift) {
        doc["drift"] = *s.drift;
    }
    if (s.has_facts) {
        doc["kernel"] = s.kernel;
        doc["os"] = s.os;
        doc["packages"] = s.packages;
    }
    return doc.dump();
}

Result<HostState> host_state_from_json(std::string_view text) {
    auto doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() ||
        doc.value("schema", "") != "shipshape.host-state/1") {
        return fail(Errc::invalid_argument, "not a shipshape.host-state/1 document");
    }
    try {
        HostState s;
        s.host = doc.at("host").get<std::string>();
        s.env = doc.value("env", "");
        s.roles = doc.value("roles", std::vector<std::string>{});
        s.state_files = doc.value("states", std::vector<std::string>{});
        const json paths = doc.value("paths", json::object());
        for (const auto& [path, m] : paths.items()) {
            s.paths[path] = ManagedPath{m.value("kind", ""), m.value("sha256", ""),
                                        m.value("mode", ""), m.value("owner", "")};
        }
        s.has_paths = true;
        if (doc.contains("drift")) {
            s.drift = doc.at("drift").get<size_t>();
        }
        if (doc.contains("packages")) {
            s.has_facts = true;
            s.kernel = doc.value("kernel", "");
            s.os = doc.value("os", "");
            s.packages = doc.at("packages").get<std::map<std::string, std::string>>();
        }
        return s;
    } catch (const json::exception& e) {
        return fail(Errc::invalid_argument, std::string("host state document: ") + e.what());
    }
}

size_t EnvComparison::difference_count() const {
    size_t n = 0;
    for (const auto& r : roles) {
        n += r.differences.size();
    }
    return n;
}

namespace {

std::string role_set(const HostState& s) {
    std::vector<std::string> roles = s.roles;
    std::sort(roles.begin(), roles.end());
    std::string out;
    for (const auto& r : roles) {
        out += (out.empty() ? "" : "+") + r;
    }
    return out.empty() ? "(no roles)" : out;
}

std::string path_value(const ManagedPath& m) {
    if (m.kind == "missing") {
        return "missing";
    }
    std::string out = m.kind;
    if (!m.sha256.empty()) {
        out += " sha256:" + m.sha256.substr(0, 12);
    }
    if (!m.mode.empty()) {
        out += " " + m.mode;
    }
    if (!m.owner.empty()) {
        out += " " + m.owner;
    }
    return out;
}

// subject -> host -> value
using Subjects = std::map<std::string, std::map<std::string, std::string>>;

void collect(const HostState& s, Subjects& out) {
    std::string states;
    for (const auto& f : s.state_files) {
        states += (states.empty() ? "" : ", ") + f;
    }
    out["states"][s.host] = states;
    for (const auto& [path, m] : s.paths) {
        out["path " + path][s.host] = path_value(m);
    }
    if (s.has_facts) {
        out["kernel"][s.host] = s.kernel;
        out["os"][s.host] = s.os;
        for (const auto& [name, version] : s.packages) {
            out["package " + name][s.host] = version;
        }
    }
}

SideValue side(const std::vector<const HostState*>& hosts,
               const std::map<std::string, std::string>& values, bool facts_subject) {
    SideValue v;
    std::set<std::string> distinct;
    for (const HostState* h : hosts) {
        if (facts_subject ? !h->has_facts : !h->has_paths) {
            continue;  // no data of this kind for the host: nothing to compare, no difference
        }
        auto it = values.find(h->host);
        std::string value = it == values.end() ? "(none)" : it->second;
        v.by_host[h->host] = value;
        distinct.insert(value);
    }
    if (distinct.size() == 1) {
        v.value = *distinct.begin();
    }
    return v;
}

std::set<std::string> value_set(const SideValue& v) {
    std::set<std::string> out;
    for (const auto& [h, value] : v.by_host) {
        out.insert(value);
    }
    return out;
}

}  // namespace

EnvComparison compare_environments(const std::string& left_env, const std::vector<HostState>& left,
                                   const std::string& right_env,
                                   const std::vector<HostState>& right) {
    EnvComparison out;
    out.left_env = left_env;
    out.right_env = right_env;
    std::map<std::string, std::pair<std::vector<const HostState*>, std::vector<const HostState*>>>
        groups;
    for (const auto& h : left) {
        groups[role_set(h)].first.push_back(&h);
    }
    for (const auto& h : right) {
        groups[role_set(h)].second.push_back(&h);
    }
    for (const auto& [roles, sides] : groups) {
        const auto& [l, r] = sides;
        if (l.empty() || r.empty()) {
            const auto& present = l.empty() ? r : l;
            std::string hosts;
            for (const HostState* h : present) {
                hosts += (hosts.empty() ? "" : ", ") + h->host;
            }
            out.notes.push_back("roles " + roles + ": only in " +
                                (l.empty() ? right_env : left_env) + " (" + hosts + ")");
            continue;
        }
        RoleComparison rc;
        rc.roles = roles;
        Subjects subjects;
        for (const HostState* h : l) {
            rc.left_hosts.push_back(h->host);
            collect(*h, subjects);
        }
        for (const HostState* h : r) {
            rc.right_hosts.push_back(h->host);
            collect(*h, subjects);
        }
        for (const auto& [subject, values] : subjects) {
            bool facts_subject =
                subject == "kernel" || subject == "os" || subject.rfind("package ", 0) == 0;
            SideValue lv = side(l, values, facts_subject);
            SideValue rv = side(r, values, facts_subject);
            if (lv.by_host.empty() || rv.by_host.empty()) {
                continue;
            }
            if (value_set(lv) != value_set(rv)) {
                rc.differences.push_back(EnvDifference{subject, std::move(lv), std::move(rv)});
            }
        }
        out.roles.push_back(std::move(rc));
    }
    auto no_facts = [&](const std::vector<HostState>& hosts, const std::string& env) {
        for (const auto& h : hosts) {
            if (!h.has_facts) {
                out.notes.push_back(env + " host " + h.host +
                                    ": no facts (packages and kernel not compared); record them "
                                    "with `shipshape facts import " +
                                    h.host + " FILE`");
            }
            if (!h.has_paths) {
                out.notes.push_back(env + " host " + h.host +
                                    ": no state report (managed paths and states not compared); "
                                    "`shipshape drift --save` on that host records one");
            }
        }
    };
    no_facts(left, left_env);
    no_facts(right, right_env);
    return out;
}

}  // namespace shipshape::state
