#include <algorithm>
#include <limits>

#include "core/size.hpp"
#include "require/requirements.hpp"

namespace shipshape::require {

std::string_view verdict_name(Verdict v) {
    switch (v) {
        case Verdict::ok:
            return "ok";
        case Verdict::fail:
            return "FAIL";
        case Verdict::unknown:
            return "unknown";
    }
    return "unknown";
}

namespace {

// The mount holding `path`: the one whose mount point is the longest prefix of it.
const facts::Mount* mount_of(const std::vector<facts::Mount>& mounts, const std::string& path) {
    const facts::Mount* best = nullptr;
    for (const auto& m : mounts) {
        const std::string& mp = m.path;
        bool prefix = path == mp || mp == "/" ||
                      (path.size() > mp.size() && path.compare(0, mp.size(), mp) == 0 &&
                       path[mp.size()] == '/');
        if (prefix && (!best || mp.size() > best->path.size())) {
            best = &m;
        }
    }
    return best;
}

std::string format_limit(uint64_t v) {
    return v == std::numeric_limits<uint64_t>::max() ? "unlimited" : std::to_string(v);
}

class Checker {
  public:
    Checker(const facts::HostFacts& f, const PathProbe& probe) : m_f(f), m_probe(probe) {}

    void row(std::string kind, std::string subject, std::string needed, std::string found,
             Verdict v, std::string reason = "") {
        m_rows.push_back(CheckRow{m_f.host, std::move(kind), std::move(subject), std::move(needed),
                                  std::move(found), v, std::move(reason)});
    }

    void memory(uint64_t need) {
        if (m_f.memory.total == 0) {
            row("memory", "available", format_size(need), "?", Verdict::unknown,
                "the facts have no memory section");
            return;
        }
        uint64_t have = m_f.memory.available;
        std::string found = format_size(have);
        if (m_f.limits.cgroup_memory_limit && *m_f.limits.cgroup_memory_limit < have) {
            have = *m_f.limits.cgroup_memory_limit;
            found = format_size(have) + " (cgroup limit)";
        }
        row("memory", "available", ">= " + format_size(need), found,
            have >= need ? Verdict::ok : Verdict::fail,
            have >= need ? "" : "short by " + format_size(need - have));
    }

    void cpus(int need) {
        if (m_f.cpu.threads == 0) {
            row("cpus", "online", std::to_string(need), "?", Verdict::unknown,
                "the facts have no cpu section");
            return;
        }
        double have = m_f.cpu.threads;
        std::string found = std::to_string(m_f.cpu.threads);
        if (m_f.limits.cgroup_cpu_limit && *m_f.limits.cgroup_cpu_limit < have) {
            have = *m_f.limits.cgroup_cpu_limit;
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.2f (cgroup limit)", have);
            found = buf;
        }
        row("cpus", "online", ">= " + std::to_string(need), found,
            have >= need ? Verdict::ok : Verdict::fail);
    }

    void disk(const DiskNeed& d) {
        if (m_probe) {
            auto exists = m_probe(d.path);
            if (exists && !*exists) {
                row("disk", d.path, ">= " + format_size(d.free) + " free", "-", Verdict::unknown,
                    "the path does not exist on this host");
                return;
            }
        }
        const facts::Mount* m = mount_of(m_f.mounts, d.path);
        if (!m || m->size == 0) {
            row("disk", d.path, ">= " + format_size(d.free) + " free", "?", Verdict::unknown,
                m ? "the size of " + m->path + " is unknown"
                  : "no mount holds this path in the facts");
            return;
        }
        bool ok = m->free >= d.free;
        row("disk", d.path, ">= " + format_size(d.free) + " free",
            format_size(m->free) + " free on " + m->path, ok ? Verdict::ok : Verdict::fail,
            ok ? "" : "short by " + format_size(d.free - m->free));
    }

    void port(const PortNeed& p) {
        std::string subject = std::to_string(p.number) + "/" + p.protocol;
        for (const auto& s : m_f.network.listening) {
            if (s.port != p.number || s.protocol.compare(0, p.protocol.size(), p.protocol) != 0) {
                continue;
            }
            std::string who =
                s.pid ? s.process + " (pid " + std::to_string(s.pid) + ")" : "a process";
            row("port", subject, "free", "in use by " + who + " on " + s.address, Verdict::fail,
                "port " + subject + " is taken");
            return;
        }
        row("port", subject, "free", "free", Verdict::ok);
    }

    void package(const PackageNeed& p) {
        std::vector<const facts::Package*> found;
        for (const auto& pkg : m_f.packages) {
            if (pkg.name == p.name && pkg.status == "installed") {
                found.push_back(&pkg);
            }
        }
        if (m_f.packages.empty()) {
            row("package", p.name,
                p.absent ? "absent" : (p.version ? p.version->text() : "installed"), "?",
                Verdict::unknown, "the facts list no packages");
            return;
        }
        if (p.absent) {
            row("package", p.name, "absent", found.empty() ? "absent" : found[0]->version,
                found.empty() ? Verdict::ok : Verdict::fail,
                found.empty() ? "" : p.name + " must not be installed");
            return;
        }
        std::string needed = p.version ? p.version->text() : "installed";
        if (found.empty()) {
            row("package", p.name, needed, "not installed", Verdict::fail,
                p.name + " is not installed");
            return;
        }
        for (const auto* pkg : found) {
            if (!p.version || p.version->satisfied_by(pkg->version)) {
                row("package", p.name, needed, pkg->version, Verdict::ok);
                return;
            }
        }
        row("package", p.name, needed, found[0]->version, Verdict::fail,
            p.name + " " + found[0]->version + " does not satisfy " + needed);
    }

    void kernel(const Constraint& c) {
        const std::string& k = m_f.os.kernel;
        if (k.empty()) {
            row("kernel", "release", c.text(), "?", Verdict::unknown,
                "the facts have no kernel release");
            return;
        }
        bool ok = c.satisfied_by(k);
        row("kernel", "release", c.text(), k, ok ? Verdict::ok : Verdict::fail);
    }

    void limit(const std::string& name, uint64_t need) {
        auto it = m_f.limits.rlimits.find(name);
        if (it == m_f.limits.rlimits.end()) {
            row("limit", name, ">= " + std::to_string(need), "?", Verdict::unknown,
                "the facts do not know this limit");
            return;
        }
        bool ok = it->second >= need;
        row("limit", name, ">= " + std::to_string(need), format_limit(it->second),
            ok ? Verdict::ok : Verdict::fail);
    }

    void env(const std::string& name) {
        bool set =
            std::find(m_f.env_names.begin(), m_f.env_names.end(), name) != m_f.env_names.end();
        row("env", name, "set", set ? "set" : "not set", set ? Verdict::ok : Verdict::fail);
    }

    std::vector<CheckRow> take() { return std::move(m_rows); }

  private:
    const facts::HostFacts& m_f;
    const PathProbe& m_probe;
    std::vector<CheckRow> m_rows;
};

}  // namespace

std::vector<CheckRow> check_requirements(const Requirements& req, const facts::HostFacts& facts,
                                         const PathProbe& probe) {
    Checker c(facts, probe);
    if (req.memory) {
        c.memory(*req.memory);
    }
    if (req.cpus) {
        c.cpus(*req.cpus);
    }
    for (const auto& d : req.disks) {
        c.disk(d);
    }
    for (const auto& p : req.ports) {
        c.port(p);
    }
    for (const auto& p : req.packages) {
        c.package(p);
    }
    if (req.kernel) {
        c.kernel(*req.kernel);
    }
    for (const auto& [name, v] : req.limits) {
        c.limit(name, v);
    }
    for (const auto& e : req.env) {
        c.env(e);
    }
    return c.take();
}

std::string explain_requirements(const Requirements& req) {
    std::string out = "# Operating requirements\n\nFrom `" + req.path +
                      "`. `shipshape require check` verifies them against each host's facts.\n";
    auto section = [&](const std::string& title) { out += "\n## " + title + "\n\n"; };
    if (req.memory || req.cpus) {
        section("Resources");
        if (req.memory) {
            out += "- at least **" + format_size(*req.memory) + "** of available memory\n";
        }
        if (req.cpus) {
            out += "- at least **" + std::to_string(*req.cpus) + "** CPUs\n";
        }
    }
    if (!req.disks.empty()) {
        section("Disk space");
        out += "| path | free space needed |\n|---|---|\n";
        for (const auto& d : req.disks) {
            out += "| `" + d.path + "` | " + format_size(d.free) + " |\n";
        }
    }
    if (!req.ports.empty()) {
        section("Ports that must be free");
        for (const auto& p : req.ports) {
            out += "- " + std::to_string(p.number) + "/" + p.protocol + "\n";
        }
    }
    if (!req.packages.empty()) {
        section("Packages (Debian version ordering)");
        out += "| package | needed |\n|---|---|\n";
        for (const auto& p : req.packages) {
            out += "| `" + p.name + "` | " +
                   (p.absent    ? "must **not** be installed"
                    : p.version ? p.version->text()
                                : "installed") +
                   " |\n";
        }
    }
    if (req.kernel) {
        section("Kernel");
        out += "- release " + req.kernel->text() + "\n";
    }
    if (!req.limits.empty()) {
        section("Process limits (soft)");
        for (const auto& [n, v] : req.limits) {
            out += "- `" + n + "` at least " + std::to_string(v) + "\n";
        }
    }
    if (!req.env.empty()) {
        section("Environment variables that must be set");
        for (const auto& e : req.env) {
            out += "- `" + e + "`\n";
        }
    }
    return out;
}

}  // namespace shipshape::require
