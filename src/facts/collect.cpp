#include "facts/collect.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "facts/text.hpp"

namespace shipshape::facts {

using namespace detail;

void parse_os_release(std::string_view text, OsFacts& out) {
    static constexpr std::pair<std::string_view, std::string OsFacts::*> k_keys[] = {
        {"ID", &OsFacts::id},
        {"PRETTY_NAME", &OsFacts::name},
        {"VERSION_ID", &OsFacts::version_id},
        {"VERSION_CODENAME", &OsFacts::codename}};
    while (!text.empty()) {
        std::string_view line = trim(next_line(text));
        std::string_view key, value;
        if (line.empty() || line.front() == '#' || !split_key(line, '=', key, value)) {
            continue;
        }
        for (const auto& [name, field] : k_keys) {
            if (key == name) {
                out.*field = unquote(value);
            }
        }
    }
}

std::string parse_debian_version(std::string_view text) {
    std::string_view line = trim(next_line(text));
    if (line.empty() || line.front() < '0' || line.front() > '9') {
        return {};
    }
    return std::string(line);
}

CpuFacts parse_cpuinfo(std::string_view text) {
    CpuFacts out;
    std::set<std::pair<std::string_view, std::string_view>> cores;
    std::string_view physical_id, core_id;
    auto end_processor = [&] {
        if (!physical_id.empty() && !core_id.empty()) {
            cores.emplace(physical_id, core_id);
        }
        physical_id = core_id = {};
    };
    while (!text.empty()) {
        std::string_view key, value;
        if (!split_key(next_line(text), ':', key, value)) {
            continue;
        }
        if (key == "processor") {
            end_processor();
            ++out.threads;
        } else if (key == "model name" && out.model.empty()) {
            out.model = std::string(value);
        } else if (key == "physical id") {
            physical_id = value;
        } else if (key == "core id") {
            core_id = value;
        }
    }
    end_processor();
    out.cores = cores.empty() ? out.threads : static_cast<int>(cores.size());
    return out;
}

MemoryFacts parse_meminfo(std::string_view text) {
    static constexpr std::pair<std::string_view, uint64_t MemoryFacts::*> k_keys[] = {
        {"MemTotal", &MemoryFacts::total},
        {"MemAvailable", &MemoryFacts::available},
        {"SwapTotal", &MemoryFacts::swap_total},
        {"SwapFree", &MemoryFacts::swap_free}};
    MemoryFacts out;
    while (!text.empty()) {
        std::string_view key, value;
        if (!split_key(next_line(text), ':', key, value)) {
            continue;
        }
        for (const auto& [name, field] : k_keys) {
            uint64_t number = 0;
            if (key == name && parse_number(next_field(value), number)) {
                out.*field = trim(value) == "kB" ? number * 1024 : number;
            }
        }
    }
    return out;
}

std::vector<Mount> parse_mounts(std::string_view text) {
    std::vector<Mount> out;
    std::unordered_map<std::string, size_t> by_path;
    while (!text.empty()) {
        auto [device, path, type] = split_fields<3>(next_line(text));
        if (type.empty() || std::find(std::begin(k_pseudo_fs), std::end(k_pseudo_fs), type) !=
                                std::end(k_pseudo_fs)) {
            continue;
        }
        Mount mount{.device = decode_octal(device),
                    .path = decode_octal(path),
                    .fs_type = std::string(type)};
        // A later mount on the same path hides the earlier one, so only the last is real.
        auto [at, inserted] = by_path.emplace(mount.path, out.size());
        if (inserted) {
            out.push_back(std::move(mount));
        } else {
            out[at->second] = std::move(mount);
        }
    }
    return out;
}

std::vector<Package> parse_dpkg_status(std::string_view text) {
    std::vector<Package> out;
    Package current;
    auto end_stanza = [&] {
        if (!current.name.empty() && !current.status.empty() && current.status != "not-installed") {
            out.push_back(std::move(current));
        }
        current = Package{};
    };
    while (!text.empty()) {
        std::string_view line = next_line(text);
        std::string_view key, value;
        if (trim(line).empty()) {
            end_stanza();
        } else if (line.front() == ' ' || line.front() == '\t' ||
                   !split_key(line, ':', key, value)) {
            continue;  // continuation of a multi-line field (Description, Conffiles, ...)
        } else if (key == "Package") {
            current.name = std::string(value);
        } else if (key == "Version") {
            current.version = std::string(value);
        } else if (key == "Architecture") {
            current.architecture = std::string(value);
        } else if (key == "Status") {
            next_field(value);  // want: install, hold, deinstall, purge
            next_field(value);  // flag: ok, reinstreq
            current.status = std::string(next_field(value));
        }
    }
    end_stanza();
    std::sort(out.begin(), out.end(), [](const Package& a, const Package& b) {
        return std::tie(a.name, a.architecture) < std::tie(b.name, b.architecture);
    });
    return out;
}

std::vector<Socket> parse_proc_net(std::string_view text, std::string_view protocol,
                                   std::vector<uint64_t>& inodes) {
    // TCP_LISTEN for stream sockets; TCP_CLOSE is how the kernel shows an unconnected UDP socket.
    const unsigned wanted = protocol.starts_with("tcp") ? 0x0A : 0x07;
    std::vector<Socket> out;
    inodes.clear();
    next_line(text);  // column titles
    while (!text.empty()) {
        auto fields = split_fields<10>(next_line(text));
        unsigned state = 0;
        int port = 0;
        uint64_t inode = 0;
        size_t colon = fields[1].find(':');
        if (!parse_number(fields[3], state, 16) || state != wanted ||
            colon == std::string_view::npos ||
            !parse_number(fields[1].substr(colon + 1), port, 16) ||
            !parse_number(fields[9], inode)) {
            continue;
        }
        std::string address = decode_address(fields[1].substr(0, colon));
        if (address.empty()) {
            continue;
        }
        Socket& socket = out.emplace_back();
        socket.protocol = protocol;
        socket.address = std::move(address);
        socket.port = port;
        inodes.push_back(inode);
    }
    return out;
}

void parse_proc_route(std::string_view text, NetworkFacts& out) {
    constexpr unsigned k_route_up = 0x1, k_route_gateway = 0x2;
    unsigned best_metric = UINT_MAX;
    next_line(text);  // column titles
    while (!text.empty()) {
        auto fields = split_fields<8>(next_line(text));
        uint32_t destination = 1, mask = 1;
        unsigned flags = 0, metric = 0;
        if (!parse_number(fields[1], destination, 16) || !parse_number(fields[3], flags, 16) ||
            !parse_number(fields[6], metric) || !parse_number(fields[7], mask, 16) ||
            destination != 0 || mask != 0 || (flags & k_route_up) == 0 ||
            (best_metric != UINT_MAX && metric >= best_metric)) {
            continue;
        }
        best_metric = metric;
        out.default_interface = std::string(fields[0]);
        out.default_gateway = (flags & k_route_gateway) != 0 ? decode_address(fields[2]) : "";
    }
}

std::vector<std::string> parse_resolv_conf(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        std::string_view rest = next_line(text);
        if (next_field(rest) == "nameserver") {
            std::string_view server = next_field(rest);
            if (!server.empty()) {
                out.emplace_back(server);
            }
        }
    }
    return out;
}

void parse_cgroup(std::string_view self_cgroup,
                  const std::function<std::string(const std::string&)>& read, LimitFacts& out) {
    constexpr std::string_view k_base = "/sys/fs/cgroup";
    std::vector<std::string_view> lines;
    for (std::string_view rest = self_cgroup; !rest.empty();) {
        std::string_view line = trim(next_line(rest));
        if (!line.empty()) {
            lines.push_back(line);
        }
    }
    if (lines.empty()) {
        return;
    }
    if (lines.size() == 1 && lines[0].starts_with("0::")) {
        out.cgroup_version = 2;
        std::string_view path = lines[0].substr(3);
        uint64_t memory = 0;
        if (parse_number(read_cgroup_file(read, k_base, path, "memory.max"), memory)) {
            out.cgroup_memory_limit = memory;
        }
        std::string cpu = read_cgroup_file(read, k_base, path, "cpu.max");
        std::string_view rest = cpu;
        int64_t quota = 0, period = 0;
        if (parse_number(next_field(rest), quota) && parse_number(next_field(rest), period) &&
            quota > 0 && period > 0) {
            out.cgroup_cpu_limit = static_cast<double>(quota) / static_cast<double>(period);
        }
        return;
    }
    out.cgroup_version = 1;
    for (std::string_view line : lines) {
        // "hierarchy-id:controller,controller:path"
        size_t first = line.find(':'), second = line.find(':', first + 1);
        if (first == std::string_view::npos || second == std::string_view::npos) {
            continue;
        }
        std::string_view controllers = line.substr(first + 1, second - first - 1);
        std::string_view path = line.substr(second + 1);
        bool has_memory = false, has_cpu = false;
        for (std::string_view rest = controllers; !rest.empty();) {
            size_t comma = rest.find(',');
            std::string_view name = rest.substr(0, comma);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            has_memory = has_memory || name == "memory";
            has_cpu = has_cpu || name == "cpu";
        }
        // Mounted under the joint name ("cpu,cpuacct") with a link per controller, or only
        // under the controller's own name.
        auto read_v1 = [&](std::string_view controller, const char* file) {
            std::string text = read_cgroup_file(read, join(k_base, controllers), path, file);
            if (text.empty() && controllers != controller) {
                text = read_cgroup_file(read, join(k_base, controller), path, file);
            }
            return text;
        };
        uint64_t memory = 0;
        if (has_memory && parse_number(read_v1("memory", "memory.limit_in_bytes"), memory) &&
            memory < k_v1_unlimited) {
            out.cgroup_memory_limit = memory;
        }
        int64_t quota = 0, period = 0;
        if (has_cpu && parse_number(read_v1("cpu", "cpu.cfs_quota_us"), quota) &&
            parse_number(read_v1("cpu", "cpu.cfs_period_us"), period) && quota > 0 && period > 0) {
            out.cgroup_cpu_limit = static_cast<double>(quota) / static_cast<double>(period);
        }
    }
}
}  // namespace shipshape::facts
