#include "cli/facts_view.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include <fmt/format.h>

#include "core/size.hpp"

namespace shipshape::cli {

namespace {

bool shown(const std::vector<std::string>& only, std::string_view s) {
    return only.empty() || std::find(only.begin(), only.end(), s) != only.end();
}

std::string limit_text(uint64_t v) {
    return v == UINT64_MAX ? "unlimited" : std::to_string(v);
}

}  // namespace

void print_facts(const facts::HostFacts& f, const std::vector<std::string>& only,
                 int64_t snapshot) {
    std::printf("%s%s\n", f.host.c_str(),
                snapshot ? fmt::format("  (saved as @{})", snapshot).c_str() : "");
    auto line = [](const char* label, const std::string& text) {
        std::printf("  %-10s %s\n", label, text.c_str());
    };
    if (shown(only, "os")) {
        line("os",
             fmt::format("{}, kernel {} {}, host {}{}", f.os.name.empty() ? f.os.id : f.os.name,
                         f.os.kernel, f.os.architecture, f.os.hostname,
                         f.os.virtualization.empty() || f.os.virtualization == "none"
                             ? ""
                             : ", " + f.os.virtualization));
    }
    if (shown(only, "cpu")) {
        line("cpu",
             fmt::format("{}, {} cores / {} threads", f.cpu.model, f.cpu.cores, f.cpu.threads));
    }
    if (shown(only, "memory")) {
        line("memory",
             fmt::format("{} total, {} available, swap {}", format_size(f.memory.total),
                         format_size(f.memory.available), format_size(f.memory.swap_total)));
    }
    if (shown(only, "mounts")) {
        for (const auto& m : f.mounts) {
            line("mount",
                 fmt::format("{} {} {} ({} free){}", m.path, m.fs_type, format_size(m.size),
                             format_size(m.free), m.device.empty() ? "" : " on " + m.device));
        }
    }
    if (shown(only, "network")) {
        for (const auto& i : f.network.interfaces) {
            std::string addrs;
            for (const auto& a : i.addresses) {
                addrs += " " + a;
            }
            line("interface", fmt::format("{} {} mtu {}{}", i.name, i.state, i.mtu, addrs));
        }
        std::string dns;
        for (const auto& d : f.network.dns_servers) {
            dns += (dns.empty() ? "" : ", ") + d;
        }
        line("route", f.network.default_gateway.empty()
                          ? "no default route"
                          : "default via " + f.network.default_gateway + " (" +
                                f.network.default_interface + ")");
        line("dns", dns.empty() ? "none" : dns);
        for (const auto& s : f.network.listening) {
            line("listening",
                 fmt::format("{} {}:{} {}", s.protocol, s.address, s.port,
                             s.pid ? fmt::format("{} (pid {})", s.process, s.pid) : ""));
        }
    }
    if (shown(only, "packages")) {
        size_t installed =
            std::count_if(f.packages.begin(), f.packages.end(),
                          [](const facts::Package& p) { return p.status == "installed"; });
        line("packages", fmt::format("{} installed, {} in other states (--json lists them)",
                                     installed, f.packages.size() - installed));
    }
    if (shown(only, "services")) {
        line("services", f.services.systemd
                             ? fmt::format("{} systemd units", f.services.units.size())
                             : f.services.note);
    }
    if (shown(only, "limits")) {
        std::string rl;
        for (const auto& [k, v] : f.limits.rlimits) {
            rl += (rl.empty() ? "" : ", ") + k + " " + limit_text(v);
        }
        line("rlimits", rl);
        std::string cg =
            f.limits.cgroup_version ? fmt::format("v{}", f.limits.cgroup_version) : "unknown";
        cg +=
            ", memory " + (f.limits.cgroup_memory_limit ? format_size(*f.limits.cgroup_memory_limit)
                                                        : "unlimited");
        cg += ", cpus " + (f.limits.cgroup_cpu_limit
                               ? fmt::format("{:.2f}", *f.limits.cgroup_cpu_limit)
                               : "unlimited");
        line("cgroup", cg);
    }
    if (shown(only, "env")) {
        line("env",
             fmt::format("{} variables set (names only; --json lists them)", f.env_names.size()));
    }
    for (const auto& p : f.problems) {
        line("problem", p);
    }
}

}  // namespace shipshape::cli
