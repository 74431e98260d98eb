// The nlohmann/json adapter for facts.
#include "facts/facts_json.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

namespace shipshape::facts {

using nlohmann::json;

namespace {

constexpr uint64_t k_unlimited = std::numeric_limits<uint64_t>::max();

bool wanted(const std::vector<std::string>& sections, std::string_view name) {
    return sections.empty() || std::find(sections.begin(), sections.end(), name) != sections.end();
}

// An unlimited rlimit is JSON null: 2^64-1 does not survive many JSON readers.
json limit_value(uint64_t v) {
    return v == k_unlimited ? json(nullptr) : json(v);
}

}  // namespace

std::string to_json(const HostFacts& f, const std::vector<std::string>& sections, int indent) {
    json j{{"schema", "shipshape.facts/1"}, {"host", f.host}, {"collected_at_ms", f.collected_at}};
    if (wanted(sections, "os")) {
        j["os"] = {{"id", f.os.id},
                   {"name", f.os.name},
                   {"version_id", f.os.version_id},
                   {"release", f.os.release},
                   {"codename", f.os.codename},
                   {"kernel", f.os.kernel},
                   {"architecture", f.os.architecture},
                   {"hostname", f.os.hostname},
                   {"boot_time", f.os.boot_time},
                   {"virtualization", f.os.virtualization}};
    }
    if (wanted(sections, "cpu")) {
        j["cpu"] = {{"model", f.cpu.model}, {"cores", f.cpu.cores}, {"threads", f.cpu.threads}};
    }
    if (wanted(sections, "memory")) {
        j["memory"] = {{"total", f.memory.total},
                       {"available", f.memory.available},
                       {"swap_total", f.memory.swap_total},
                       {"swap_free", f.memory.swap_free}};
    }
    if (wanted(sections, "mounts")) {
        json arr = json::array();
        for (const auto& m : f.mounts) {
            arr.push_back({{"device", m.device},
                           {"path", m.path},
                           {"fs_type", m.fs_type},
                           {"size", m.size},
                           {"free", m.free},
                           {"inodes", m.inodes},
                           {"inodes_free", m.inodes_free}});
        }
        j["mounts"] = arr;
    }
    if (wanted(sections, "network")) {
        json ifs = json::array();
        for (const auto& i : f.network.interfaces) {
            ifs.push_back({{"name", i.name},
                           {"state", i.state},
                           {"mtu", i.mtu},
                           {"mac", i.mac},
                           {"addresses", i.addresses}});
        }
        json socks = json::array();
        for (const auto& s : f.network.listening) {
            socks.push_back({{"protocol", s.protocol},
                             {"address", s.address},
                             {"port", s.port},
                             {"pid", s.pid},
                             {"process", s.process}});
        }
        j["network"] = {{"interfaces", ifs},
                        {"default_gateway", f.network.default_gateway},
                        {"default_interface", f.network.default_interface},
                        {"dns_servers", f.network.dns_servers},
                        {"listening", socks}};
    }
    if (wanted(sections, "packages")) {
        json arr = json::array();
        for (const auto& p : f.packages) {
            arr.push_back({{"name", p.name},
                           {"version", p.version},
                           {"architecture", p.architecture},
                           {"status", p.status}});
        }
        j["packages"] = arr;
    }
    if (wanted(sections, "services")) {
        json units = json::array();
        for (const auto& u : f.services.units) {
            units.push_back({{"name", u.name}, {"state", u.state}});
        }
        j["services"] = {
            {"systemd", f.services.systemd}, {"note", f.services.note}, {"units", units}};
    }
    if (wanted(sections, "limits")) {
        json rl = json::object();
        for (const auto& [k, v] : f.limits.rlimits) {
            rl[k] = limit_value(v);
        }
        j["limits"] = {
            {"rlimits", rl},
            {"sysctl", f.limits.sysctl},
            {"cgroup_version", f.limits.cgroup_version},
            {"cgroup_memory_limit",
             f.limits.cgroup_memory_limit ? json(*f.limits.cgroup_memory_limit) : json(nullptr)},
            {"cgroup_cpu_limit",
             f.limits.cgroup_cpu_limit ? json(*f.limits.cgroup_cpu_limit) : json(nullptr)}};
    }
    if (wanted(sections, "env")) {
        j["env_names"] = f.env_names;
    }
    j["problems"] = f.problems;
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

Result<HostFacts> from_json(const std::string& text) {
    HostFacts f;
    try {
        json j = json::parse(text);
        // `shipshape --json facts HOST` wraps documents: accept it when it holds exactly one.
        if (j.is_object() && j.value("kind", "") == "facts" && j.contains("hosts") &&
            j["hosts"].is_array() && j["hosts"].size() == 1) {
            j = j["hosts"][0];
        }
        if (!j.is_object() || j.value("schema", "") != "shipshape.facts/1") {
            return fail(Errc::invalid_argument,
                        "not a shipshape.facts/1 document (expected \"schema\": "
                        "\"shipshape.facts/1\", as `shipshape --json facts HOST` writes for one "
                        "host)");
        }
        f.host = j.value("host", "");
        f.collected_at = j.value("collected_at_ms", int64_t{0});
        if (j.contains("os")) {
            const auto& o = j["os"];
            f.os.id = o.value("id", "");
            f.os.name = o.value("name", "");
            f.os.version_id = o.value("version_id", "");
            f.os.release = o.value("release", "");
            f.os.codename = o.value("codename", "");
            f.os.kernel = o.value("kernel", "");
            f.os.architecture = o.value("architecture", "");
            f.os.hostname = o.value("hostname", "");
            f.os.boot_time = o.value("boot_time", int64_t{0});
            f.os.virtualization = o.value("virtualization", "");
        }
        if (j.contains("cpu")) {
            f.cpu.model = j["cpu"].value("model", "");
            f.cpu.cores = j["cpu"].value("cores", 0);
            f.cpu.threads = j["cpu"].value("threads", 0);
        }
        if (j.contains("memory")) {
            const auto& m = j["memory"];
            f.memory.total = m.value("total", uint64_t{0});
            f.memory.available = m.value("available", uint64_t{0});
            f.memory.swap_total = m.value("swap_total", uint64_t{0});
            f.memory.swap_free = m.value("swap_free", uint64_t{0});
        }
        for (const auto& m : j.value("mounts", json::array())) {
            f.mounts.push_back({m.value("device", ""), m.value("path", ""), m.value("fs_type", ""),
                                m.value("size", uint64_t{0}), m.value("free", uint64_t{0}),
                                m.value("inodes", uint64_t{0}),
                                m.value("inodes_free", uint64_t{0})});
        }
        if (j.contains("network")) {
            const auto& n = j["network"];
            for (const auto& i : n.value("interfaces", json::array())) {
                f.network.interfaces.push_back({i.value("name", ""), i.value("state", ""),
                                                i.value("mtu", 0), i.value("mac", ""),
                                                i.value("addresses", std::vector<std::string>{})});
            }
            f.network.default_gateway = n.value("default_gateway", "");
            f.network.default_interface = n.value("default_interface", "");
            f.network.dns_servers = n.value("dns_servers", std::vector<std::string>{});
            for (const auto& s : n.value("listening", json::array())) {
                f.network.listening.push_back({s.value("protocol", ""), s.value("address", ""),
                                               s.value("port", 0), s.value("pid", int64_t{0}),
                                               s.value("process", "")});
            }
        }
        for (const auto& p : j.value("packages", json::array())) {
            f.packages.push_back({p.value("name", ""), p.value("version", ""),
                                  p.value("architecture", ""), p.value("status", "")});
        }
        if (j.contains("services")) {
            const auto& s = j["services"];
            f.services.systemd = s.value("systemd", false);
            f.services.note = s.value("note", "");
            for (const auto& u : s.value("units", json::array())) {
                f.services.units.push_back({u.value("name", ""), u.value("state", "")});
            }
        }
        if (j.contains("limits")) {
            const auto& l = j["limits"];
            const json rlimits = l.value("rlimits", json::object());  // outlives the loop
            for (const auto& [k, v] : rlimits.items()) {
                f.limits.rlimits[k] = v.is_null() ? k_unlimited : v.get<uint64_t>();
            }
            f.limits.sysctl = l.value("sysctl", std::map<std::string, std::string>{});
            f.limits.cgroup_version = l.value("cgroup_version", 0);
            if (l.contains("cgroup_memory_limit") && !l["cgroup_memory_limit"].is_null()) {
                f.limits.cgroup_memory_limit = l["cgroup_memory_limit"].get<uint64_t>();
            }
            if (l.contains("cgroup_cpu_limit") && !l["cgroup_cpu_limit"].is_null()) {
                f.limits.cgroup_cpu_limit = l["cgroup_cpu_limit"].get<double>();
            }
        }
        f.env_names = j.value("env_names", std::vector<std::string>{});
        f.problems = j.value("problems", std::vector<std::string>{});
    } catch (const json::exception& e) {
        return fail(Errc::invalid_argument, std::string("malformed facts document: ") + e.what());
    }
    return f;
}

}  // namespace shipshape::facts
