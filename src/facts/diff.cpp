#include "facts/diff.hpp"

#include "core/size.hpp"

#include <limits>
#include <map>
#include <set>

namespace shipshape::facts {

namespace {

class Differ {
  public:
    void field(const std::string& section, const std::string& subject, const std::string& l,
               const std::string& r) {
        if (l != r) {
            m_out.push_back({section, subject, l, r});
        }
    }
    // Keyed maps: entries on one side only show the other side empty.
    void maps(const std::string& section, const std::map<std::string, std::string>& l,
              const std::map<std::string, std::string>& r) {
        std::set<std::string> keys;
        for (const auto& [k, v] : l) {
            keys.insert(k);
        }
        for (const auto& [k, v] : r) {
            keys.insert(k);
        }
        for (const auto& k : keys) {
            auto li = l.find(k);
            auto ri = r.find(k);
            field(section, k, li == l.end() ? "" : li->second, ri == r.end() ? "" : ri->second);
        }
    }
    std::vector<Difference> take() { return std::move(m_out); }

  private:
    std::vector<Difference> m_out;
};

std::map<std::string, std::string> packages(const HostFacts& f) {
    std::map<std::string, std::string> out;
    for (const auto& p : f.packages) {
        if (p.status != "installed") {
            continue;
        }
        std::string key = p.name;
        // Multi-arch packages appear once per architecture.
        if (out.count(key)) {
            key += ":" + p.architecture;
        }
        out[key] = p.version;
    }
    return out;
}

std::map<std::string, std::string> limits(const HostFacts& f) {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : f.limits.rlimits) {
        out["rlimit " + k] =
            v == std::numeric_limits<uint64_t>::max() ? "unlimited" : std::to_string(v);
    }
    for (const auto& [k, v] : f.limits.sysctl) {
        out[k] = v;
    }
    if (f.limits.cgroup_memory_limit) {
        out["cgroup memory"] = std::to_string(*f.limits.cgroup_memory_limit);
    }
    if (f.limits.cgroup_cpu_limit) {
        out["cgroup cpus"] = std::to_string(*f.limits.cgroup_cpu_limit);
    }
    return out;
}

std::map<std::string, std::string> ports(const HostFacts& f) {
    std::map<std::string, std::string> out;
    for (const auto& s : f.network.listening) {
        std::string proto = s.protocol.substr(0, 3);  // tcp6 and tcp are one port to a client
        std::string& who = out[std::to_string(s.port) + "/" + proto];
        std::string name = s.process.empty() ? "listening" : s.process;
        if (who.find(name) == std::string::npos) {
            who += (who.empty() ? "" : ",") + name;
        }
    }
    return out;
}

}  // namespace

std::string os_label(const OsFacts& os) {
    std::string label = os.name.empty() ? os.id : os.name;
    if (!os.release.empty() && os.release != os.version_id) {
        label += (label.empty() ? "" : ", ") + os.release;
    }
    return label;
}

std::vector<Difference> diff_facts(const HostFacts& l, const HostFacts& r) {
    Differ d;
    d.field("os", "distribution", l.os.name, r.os.name);
    d.field("os", "release", l.os.release, r.os.release);
    d.field("os", "kernel", l.os.kernel, r.os.kernel);
    d.field("os", "architecture", l.os.architecture, r.os.architecture);
    d.field("os", "virtualization", l.os.virtualization, r.os.virtualization);
    d.field("cpu", "model", l.cpu.model, r.cpu.model);
    d.field("cpu", "threads", std::to_string(l.cpu.threads), std::to_string(r.cpu.threads));
    d.field("memory", "total", format_size(l.memory.total), format_size(r.memory.total));
    d.field("memory", "swap", format_size(l.memory.swap_total), format_size(r.memory.swap_total));
    d.maps("packages", packages(l), packages(r));
    d.maps("limits", limits(l), limits(r));
    d.maps("ports", ports(l), ports(r));
    return d.take();
}

}  // namespace shipshape::facts
