#include "core/clock.hpp"
#include "core/wall_ms.hpp"
#include "facts/collect.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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

#include "facts/gather_net.hpp"
#include "facts/text.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"

// The gatherers: read a host (or a fixture root) and call the parsers of collect.cpp.
namespace shipshape::facts {

using namespace detail;

namespace {

// errno as the "why" of a problem, lower-cased like the rest of our messages.
std::string why(int err) {
    std::string text = std::strerror(err);
    if (!text.empty()) {
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    }
    return text;
}

// The operating system's reason in an os:: error ("reading 'PATH': No such file or directory"
// -> "no such file or directory"): a problem names its path itself (WHERE: WHAT: WHY).
std::string why(const Error& error) {
    std::string_view message = error.message();
    size_t colon = message.rfind(": ");
    std::string text(colon == std::string_view::npos ? message : message.substr(colon + 2));
    if (!text.empty()) {
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    }
    return text;
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) {
        return fail(os::errno_error("listing '" + path + "'", errno));
    }
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(dir)) {
        std::string_view name = entry->d_name;
        if (name != "." && name != "..") {
            names.emplace_back(name);
        }
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

std::string read_link(const std::string& path) {
    char target[PATH_MAX];
    ssize_t n = ::readlink(path.c_str(), target, sizeof target);
    return n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string();
}

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool has_install_section(std::string_view text) {
    bool in_install = false;
    while (!text.empty()) {
        std::string_view line = trim(next_line(text));
        if (line.empty() || line.front() == '#' || line.front() == ';') {
            continue;
        }
        if (line.front() == '[') {
            in_install = line == "[Install]";
        } else if (in_install) {
            return true;
        }
    }
    return false;
}

struct VmVendor {
    std::string_view needle;
    std::string_view kind;
};

// DMI vendor or product strings of hypervisors. Microsoft needs "Virtual Machine" as the
// product as well, since Surface laptops carry the same vendor string.
constexpr VmVendor k_vm_vendors[] = {{"QEMU", "kvm"},           {"KVM", "kvm"},
                                     {"VMware", "vmware"},      {"VirtualBox", "virtualbox"},
                                     {"innotek", "virtualbox"}, {"Xen", "xen"},
                                     {"Amazon EC2", "amazon"},  {"Google", "google"}};

class Gatherer {
  public:
    Gatherer(const GatherOptions& options, HostFacts& facts) : m_facts(facts) {
        m_root = options.root;
        while (!m_root.empty() && m_root.back() == '/') {
            m_root.pop_back();
        }
        m_host = m_root.empty();
        m_env_names = options.env_names;
    }

    void os();
    void cpu();
    void memory();
    void mounts();
    void network();
    void packages();
    void services();
    void limits();
    void env();

  private:
    // `logical` is absolute within the host ("/proc/stat"); the result is where it really is.
    std::string path(std::string_view logical) const { return m_root + std::string(logical); }

    void problem(std::string_view section, std::string_view what, std::string_view reason) {
        std::string text(section);
        text.append(": ").append(what).append(": ").append(reason);
        m_facts.problems.push_back(std::move(text));
    }

    // The file's text, or nullopt after recording why it could not be read.
    std::optional<std::string> read(std::string_view section, std::string_view logical) {
        std::string real = path(logical);
        auto text = os::read_whole_file(real);
        if (!text) {
            problem(section, real, why(text.error()));
            return std::nullopt;
        }
        return std::move(*text);
    }

    std::string read_quiet(std::string_view logical) const {
        auto text = os::read_whole_file(path(logical));
        return text ? std::move(*text) : std::string();
    }

    // Read once: both the os (hypervisor flag) and cpu sections need it; only the cpu section
    // reports a failure, for the os section it is one probe among several.
    const Result<std::string>& cpuinfo() {
        if (!m_cpuinfo) {
            m_cpuinfo = os::read_whole_file(path("/proc/cpuinfo"));
        }
        return *m_cpuinfo;
    }

    std::string virtualization();
    void listening();

    HostFacts& m_facts;
    std::string m_root;  // "" for this host
    bool m_host = false;
    std::vector<std::string> m_env_names;
    std::optional<Result<std::string>> m_cpuinfo;
};

void Gatherer::os() {
    OsFacts& os = m_facts.os;
    auto release = os::read_whole_file(path("/etc/os-release"));
    if (!release) {
        release = os::read_whole_file(path("/usr/lib/os-release"));
    }
    if (release) {
        parse_os_release(*release, os);
    } else {
        problem("os", path("/etc/os-release"), why(release.error()));
    }
    // Only Debian and its derivatives have the file: its absence is not a problem.
    os.release = parse_debian_version(read_quiet("/etc/debian_version"));
    if (os.release.empty()) {
        os.release = os.version_id;
    }
    os.kernel = std::string(trim(read("os", "/proc/sys/kernel/osrelease").value_or("")));
    os.hostname = std::string(trim(read("os", "/proc/sys/kernel/hostname").value_or("")));
    utsname uts{};
    if (m_host && ::uname(&uts) == 0) {
        os.architecture = uts.machine;
    } else if (!m_host) {
        os.architecture = std::string(trim(read_quiet("/proc/sys/kernel/arch")));
    }
    if (auto proc_stat = read("os", "/proc/stat")) {
        std::string_view text = *proc_stat;
        while (!text.empty()) {
            std::string_view rest = next_line(text);
            if (next_field(rest) == "btime" && parse_number(next_field(rest), os.boot_time)) {
                break;
            }
        }
    }
    os.virtualization = virtualization();
}

std::string Gatherer::virtualization() {
    struct stat st {};
    if (::lstat(path("/.dockerenv").c_str(), &st) == 0) {
        return "docker";
    }
    std::string environ_1 = read_quiet("/proc/1/environ");
    if (environ_1.starts_with("container=") ||
        environ_1.find(std::string_view("\0container=", 11)) != std::string::npos ||
        !read_quiet("/run/systemd/container").empty()) {
        return "container";
    }
    std::string vendor = read_quiet("/sys/class/dmi/id/sys_vendor");
    std::string product = read_quiet("/sys/class/dmi/id/product_name");
    if (vendor.find("Microsoft") != std::string::npos &&
        product.find("Virtual Machine") != std::string::npos) {
        return "hyperv";
    }
    for (const auto& [needle, kind] : k_vm_vendors) {
        if (vendor.find(needle) != std::string::npos || product.find(needle) != std::string::npos) {
            return std::string(kind);
        }
    }
    const auto& info = cpuinfo();
    for (std::string_view text = info ? std::string_view(*info) : ""; !text.empty();) {
        std::string_view key, flags;
        if (split_key(next_line(text), ':', key, flags) && key == "flags") {
            while (!flags.empty()) {
                if (next_field(flags) == "hypervisor") {
                    return "vm";
                }
            }
            break;
        }
    }
    return "none";
}

void Gatherer::cpu() {
    if (const auto& text = cpuinfo(); !text) {
        problem("cpu", path("/proc/cpuinfo"), why(text.error()));
    } else {
        m_facts.cpu = parse_cpuinfo(*text);
    }
}

void Gatherer::memory() {
    if (auto text = read("memory", "/proc/meminfo")) {
        m_facts.memory = parse_meminfo(*text);
    }
}

void Gatherer::mounts() {
    auto text = read("mounts", "/proc/self/mounts");
    if (!text) {
        return;
    }
    m_facts.mounts = parse_mounts(*text);
    if (!m_host) {
        return;
    }
    for (Mount& mount : m_facts.mounts) {
        struct statvfs vfs {};
        if (::statvfs(mount.path.c_str(), &vfs) != 0) {
            int err = errno;
            problem("mounts", "statvfs " + mount.path, why(err));
            continue;
        }
        uint64_t blocks = vfs.f_blocks, available = vfs.f_bavail;
        mount.size = blocks * vfs.f_frsize;
        mount.free = available * vfs.f_frsize;
        mount.inodes = vfs.f_files;
        mount.inodes_free = vfs.f_ffree;
    }
}

void Gatherer::network() {
    NetworkFacts& net = m_facts.network;
    if (auto names = list_dir(path("/sys/class/net")); !names) {
        problem("network.interfaces", path("/sys/class/net"), why(names.error()));
    } else {
        for (const std::string& name : *names) {
            std::string dir = "/sys/class/net/" + name;
            Interface& iface = net.interfaces.emplace_back();
            iface.name = name;
            iface.state = trim(read_quiet(dir + "/operstate"));
            iface.mac = trim(read_quiet(dir + "/address"));
            if (!parse_number(trim(read_quiet(dir + "/mtu")), iface.mtu)) {
                iface.mtu = 0;
            }
        }
    }
    ifaddrs* addresses = nullptr;
    if (m_host && ::getifaddrs(&addresses) != 0) {
        int err = errno;
        problem("network.interfaces", "getifaddrs", why(err));
    }
    for (const ifaddrs* a = addresses; a != nullptr; a = a->ifa_next) {
        int family = a->ifa_addr == nullptr ? AF_UNSPEC : a->ifa_addr->sa_family;
        if (family != AF_INET && family != AF_INET6) {
            continue;
        }
        const void* raw = family == AF_INET
                              ? static_cast<const void*>(
                                    &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr)
                              : static_cast<const void*>(
                                    &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr);
        char text[INET6_ADDRSTRLEN];
        // Alias labels ("eth0:1") belong to their device.
        std::string_view device =
            std::string_view(a->ifa_name).substr(0, std::string_view(a->ifa_name).find(':'));
        auto it = std::find_if(net.interfaces.begin(), net.interfaces.end(),
                               [&](const Interface& i) { return i.name == device; });
        if (it != net.interfaces.end() && inet_ntop(family, raw, text, sizeof text) != nullptr) {
            it->addresses.push_back(std::string(text) + "/" +
                                    std::to_string(prefix_length(a->ifa_netmask, family)));
        }
    }
    if (addresses != nullptr) {
        ::freeifaddrs(addresses);
    }
    if (auto route = read("network.route", "/proc/net/route")) {
        parse_proc_route(*route, net);
    }
    if (auto resolv = read("network.dns", "/etc/resolv.conf")) {
        net.dns_servers = parse_resolv_conf(*resolv);
    }
    listening();
}

void Gatherer::listening() {
    std::vector<Socket>& out = m_facts.network.listening;
    std::vector<uint64_t> inodes, all_inodes;
    for (std::string_view protocol : {"tcp", "tcp6", "udp", "udp6"}) {
        if (m_host && protocol.starts_with("tcp")) {
            // Falls back to /proc when sock_diag is unavailable (no inet_diag module, seccomp).
            if (auto sockets = tcp_listeners(protocol, inodes)) {
                out.insert(out.end(), sockets->begin(), sockets->end());
                all_inodes.insert(all_inodes.end(), inodes.begin(), inodes.end());
                continue;
            }
        }
        std::string real = path("/proc/net/" + std::string(protocol));
        auto text = os::read_whole_file(real);
        // Without IPv6 in the kernel the *6 tables are absent, which is no failure.
        if (!text && !(protocol.ends_with('6') && text.error().code() == Errc::not_found)) {
            problem("network.listening", real, why(text.error()));
        }
        if (text) {
            for (Socket& socket : parse_proc_net(*text, protocol, inodes)) {
                out.push_back(std::move(socket));
            }
            all_inodes.insert(all_inodes.end(), inodes.begin(), inodes.end());
        }
    }
    std::unordered_set<uint64_t> wanted(all_inodes.begin(), all_inodes.end());
    wanted.erase(0);
    auto owners = wanted.empty() ? std::unordered_map<uint64_t, int64_t>()
                                 : socket_owners(path("/proc"), std::move(wanted));
    std::unordered_map<int64_t, std::string> comms;
    for (size_t i = 0; i < out.size(); ++i) {
        auto owner = owners.find(all_inodes[i]);
        if (owner == owners.end()) {
            continue;
        }
        out[i].pid = owner->second;
        auto [comm, inserted] = comms.try_emplace(owner->second);
        if (inserted) {
            comm->second = trim(read_quiet("/proc/" + std::to_string(owner->second) + "/comm"));
        }
        out[i].process = comm->second;
    }
    // Kernel order is hash order; a stable order lets two hosts' facts be compared line by line.
    std::sort(out.begin(), out.end(), [](const Socket& a, const Socket& b) {
        return std::tie(a.protocol, a.port, a.address, a.pid) <
               std::tie(b.protocol, b.port, b.address, b.pid);
    });
}

void Gatherer::packages() {
    std::string real = path("/var/lib/dpkg/status");
    auto text = os::read_whole_file(real);
    if (!text && text.error().code() == Errc::not_found) {
        problem("packages", "no dpkg status file at " + real,
                "this host has no Debian package database");
    } else if (!text) {
        problem("packages", real, why(text.error()));
    } else {
        m_facts.packages = parse_dpkg_status(*text);
    }
}

void Gatherer::services() {
    ServiceFacts& out = m_facts.services;
    if (!is_directory(path("/run/systemd/system"))) {
        out.note =
            "systemd is not running on this host (no /run/systemd/system): services are "
            "not listed";
        return;
    }
    out.systemd = true;
    // `systemctl enable` links a unit into some target's .wants/ (or .requires/) directory; an
    // instance of a template ("getty@tty1.service") enables the template.
    std::unordered_set<std::string> enabled;
    std::string etc = path("/etc/systemd/system");
    if (auto names = list_dir(etc)) {
        for (const std::string& dir : *names) {
            if (!dir.ends_with(".wants") && !dir.ends_with(".requires")) {
                continue;
            }
            for (const std::string& unit :
                 list_dir(join(etc, dir)).value_or(std::vector<std::string>{})) {
                size_t at = unit.find('@');
                enabled.insert(at == std::string::npos ? unit
                                                       : unit.substr(0, at + 1) + ".service");
            }
        }
    }
    std::map<std::string, std::string> states;
    std::set<std::pair<dev_t, ino_t>> seen;  // /lib is /usr/lib on merged-/usr systems
    for (std::string_view dir :
         {"/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}) {
        std::string real = path(dir);
        struct stat st {};
        if (::stat(real.c_str(), &st) == 0 && !seen.emplace(st.st_dev, st.st_ino).second) {
            continue;
        }
        auto names = list_dir(real);
        if (!names) {
            if (!dir.starts_with("/usr")) {
                problem("services", real, why(names.error()));
            }
            continue;
        }
        for (const std::string& name : *names) {
            if (!name.ends_with(".service") || states.contains(name)) {
                continue;
            }
            std::string file = join(real, name);
            std::string link = read_link(file);
            if (link == "/dev/null") {
                states.emplace(name, "masked");
            } else if (enabled.contains(name) || (!link.empty() && dir.starts_with("/etc"))) {
                // A link in /etc/systemd/system is an Alias= that `systemctl enable` made.
                states.emplace(name, "enabled");
            } else if (auto text = os::read_whole_file(file); !text) {
                problem("services", file, why(text.error()));
            } else {
                states.emplace(name, has_install_section(*text) ? "disabled" : "static");
            }
        }
    }
    for (auto& [name, state] : states) {
        out.units.push_back(Service{.name = name, .state = std::move(state)});
    }
}

void Gatherer::limits() {
    LimitFacts& out = m_facts.limits;
    static constexpr std::pair<const char*, int> k_rlimits[] = {
        {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC}, {"core", RLIMIT_CORE},
        {"memlock", RLIMIT_MEMLOCK}, {"stack", RLIMIT_STACK}, {"as", RLIMIT_AS},
        {"fsize", RLIMIT_FSIZE},     {"cpu", RLIMIT_CPU}};
    // Our own limits say nothing about the host below another root.
    for (const auto& [name, resource] : k_rlimits) {
        rlimit limit{};
        if (!m_host) {
            break;
        }
        if (::getrlimit(resource, &limit) != 0) {
            int err = errno;
            problem("limits", std::string("getrlimit ") + name, why(err));
            continue;
        }
        uint64_t soft = limit.rlim_cur;
        out.rlimits[name] = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : soft;
    }
    for (std::string_view key :
         {"fs.file-max", "fs.nr_open", "net.core.somaxconn", "net.ipv4.ip_local_port_range",
          "vm.max_map_count", "kernel.pid_max"}) {
        std::string logical = "/proc/sys/" + std::string(key);
        std::replace(logical.begin(), logical.end(), '.', '/');
        auto text = read("limits", logical);
        if (!text) {
            continue;
        }
        std::string value;
        std::string_view rest = *text;
        for (std::string_view field = next_field(rest); !field.empty(); field = next_field(rest)) {
            value.append(value.empty() ? "" : " ").append(trim(field));
        }
        out.sysctl.emplace(key, std::move(value));
    }
    if (auto self = read("limits", "/proc/self/cgroup")) {
        parse_cgroup(
            *self, [this](const std::string& logical) { return read_quiet(logical); }, out);
    }
}

void Gatherer::env() {
    std::vector<std::string>& out = m_facts.env_names;
    if (!m_host) {
        problem("env", m_root, "environment variables are read only on the local host (root /)");
        return;
    }
    if (!m_env_names.empty()) {
        for (const std::string& name : m_env_names) {
            if (::getenv(name.c_str()) != nullptr) {
                out.push_back(name);
            }
        }
    } else {
        for (char** entry = environ; *entry != nullptr; ++entry) {
            std::string_view text = *entry;
            out.emplace_back(text.substr(0, text.find('=')));
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
}

}  // namespace

HostFacts gather_facts(const GatherOptions& options) {
    using Section = void (Gatherer::*)();
    static constexpr std::pair<std::string_view, Section> k_gatherers[] = {
        {"os", &Gatherer::os},
        {"cpu", &Gatherer::cpu},
        {"memory", &Gatherer::memory},
        {"mounts", &Gatherer::mounts},
        {"network", &Gatherer::network},
        {"packages", &Gatherer::packages},
        {"services", &Gatherer::services},
        {"limits", &Gatherer::limits},
        {"env", &Gatherer::env}};
    HostFacts facts;
    facts.host = "localhost";
    facts.collected_at = wall_ms();
    for (const std::string& name : options.sections) {
        if (std::find(k_sections.begin(), k_sections.end(), name) == k_sections.end()) {
            std::string known;
            for (const std::string& section : k_sections) {
                known.append(known.empty() ? "" : ", ").append(section);
            }
            std::string text = "sections: unknown section '";
            text.append(name).append("' (expected one of: ").append(known).append(")");
            facts.problems.push_back(std::move(text));
        }
    }
    Gatherer gatherer(options, facts);
    for (const auto& [name, gather] : k_gatherers) {
        if (options.sections.empty() || std::find(options.sections.begin(), options.sections.end(),
                                                  name) != options.sections.end()) {
            (gatherer.*gather)();
        }
    }
    return facts;
}

}  // namespace shipshape::facts
