#include "facts/collect.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
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

namespace shipshape::facts {
namespace {

// A plain test rather than find_first_not_of(" \t\r\n"), which calls memchr per character:
// that alone took half of the time spent parsing a 700 kB dpkg status file.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// Splits off the next line of `rest`, without its newline.
std::string_view next_line(std::string_view& rest) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    return line;
}

// Splits off the next blank-separated field of `rest`; "" when there is none.
std::string_view next_field(std::string_view& rest) {
    while (!rest.empty() && is_space(rest.front())) {
        rest.remove_prefix(1);
    }
    size_t end = 0;
    while (end < rest.size() && !is_space(rest[end])) {
        ++end;
    }
    std::string_view field = rest.substr(0, end);
    rest.remove_prefix(end);
    return field;
}

template <typename T>
bool parse_number(std::string_view s, T& out, int base = 10) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// "key<sep>value" with both sides trimmed; false when `sep` is missing.
bool split_key(std::string_view line, char sep, std::string_view& key, std::string_view& value) {
    size_t at = line.find(sep);
    if (at == std::string_view::npos) {
        return false;
    }
    key = trim(line.substr(0, at));
    value = trim(line.substr(at + 1));
    return true;
}

// os-release values follow shell quoting: '...' is literal, "..." knows \" \\ \$ \` escapes.
std::string unquote(std::string_view v) {
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
        return std::string(v.substr(1, v.size() - 2));
    }
    if (v.size() < 2 || v.front() != '"' || v.back() != '"') {
        return std::string(v);
    }
    v = v.substr(1, v.size() - 2);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size() && std::string_view("\"\\$`").find(v[i + 1]) !=
                                                     std::string_view::npos) {
            ++i;
        }
        out += v[i];
    }
    return out;
}

// The kernel prints each 32-bit word of an address as a host-order integer, so the bytes come
// back by copying the parsed words in host order (the parser runs on the host that wrote them).
std::string decode_address(std::string_view hex) {
    size_t words = hex.size() / 8;
    if ((words != 1 && words != 4) || hex.size() % 8 != 0) {
        return {};
    }
    unsigned char bytes[16];
    for (size_t w = 0; w < words; ++w) {
        uint32_t word = 0;
        if (!parse_number(hex.substr(w * 8, 8), word, 16)) {
            return {};
        }
        std::memcpy(bytes + w * 4, &word, sizeof word);
    }
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(words == 1 ? AF_INET : AF_INET6, bytes, text, sizeof text) == nullptr) {
        return {};
    }
    return text;
}

// /proc/self/mounts writes space, tab, newline and backslash as \040, \011, \012, \134.
std::string decode_octal(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 4 <= s.size() &&
            std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                        s.begin() + static_cast<std::ptrdiff_t>(i) + 4,
                        [](char c) { return c >= '0' && c <= '7'; })) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// Kernel file systems that describe no storage; listing them buries the disks.
constexpr std::string_view k_pseudo_fs[] = {
    "proc",       "sysfs",  "cgroup", "cgroup2", "devpts",   "mqueue",    "debugfs",
    "tracefs",    "securityfs", "pstore", "bpf", "configfs", "fusectl",   "hugetlbfs",
    "autofs",     "binfmt_misc", "nsfs", "rpc_pipefs"};

// Values at or above 2^62 are how cgroup v1 spells "no limit" (the page-rounded LONG_MAX).
constexpr uint64_t k_v1_unlimited = uint64_t{1} << 62;

// A cgroup path that leaves the namespace ("/../..") cannot be found below our mount.
std::string cgroup_dir(std::string_view base, std::string_view path) {
    std::string dir(base);
    path = trim(path);
    if (path.find("..") != std::string_view::npos) {
        return dir;
    }
    while (!path.empty() && path.front() == '/') {
        path.remove_prefix(1);
    }
    if (!path.empty()) {
        dir += '/';
        dir += path;
    }
    return dir;
}

// Reads `file` in the process's own cgroup directory, falling back to the controller's root:
// inside a container the path names the host's hierarchy, which the container sees as its root.
std::string read_cgroup_file(const std::function<std::string(const std::string&)>& read,
                             std::string_view base, std::string_view path, const char* file) {
    std::string text = read(cgroup_dir(base, path) + "/" + file);
    if (text.empty()) {
        text = read(std::string(base) + "/" + file);
    }
    return std::string(trim(text));
}

}  // namespace

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
        std::string_view rest = next_line(text);
        std::string_view device = next_field(rest), path = next_field(rest);
        std::string_view type = next_field(rest);
        if (type.empty() || std::find(std::begin(k_pseudo_fs), std::end(k_pseudo_fs), type) !=
                                std::end(k_pseudo_fs)) {
            continue;
        }
        Mount mount{.device = decode_octal(device), .path = decode_octal(path),
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
        } else if (line.front() == ' ' || line.front() == '\t' || !split_key(line, ':', key, value)) {
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
        std::string_view rest = next_line(text);
        std::string_view fields[10];
        for (auto& field : fields) {
            field = next_field(rest);
        }
        unsigned state = 0;
        int port = 0;
        uint64_t inode = 0;
        size_t colon = fields[1].find(':');
        if (!parse_number(fields[3], state, 16) || state != wanted ||
            colon == std::string_view::npos || !parse_number(fields[1].substr(colon + 1), port, 16) ||
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
        std::string_view rest = next_line(text);
        std::string_view fields[8];
        for (auto& field : fields) {
            field = next_field(rest);
        }
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
            std::string text = read_cgroup_file(
                read, std::string(k_base) + "/" + std::string(controllers), path, file);
            if (text.empty() && controllers != controller) {
                text = read_cgroup_file(read, std::string(k_base) + "/" + std::string(controller),
                                        path, file);
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
            parse_number(read_v1("cpu", "cpu.cfs_period_us"), period) && quota > 0 &&
            period > 0) {
            out.cgroup_cpu_limit = static_cast<double>(quota) / static_cast<double>(period);
        }
    }
}

namespace {

// errno as the "why" of a problem, lower-cased like the rest of our messages.
std::string why(int err) {
    std::string text = std::strerror(err);
    if (!text.empty()) {
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    }
    return text;
}

Error errno_to_error(int err) {
    Errc code = err == ENOENT || err == ENOTDIR ? Errc::not_found
                : err == EACCES || err == EPERM ? Errc::permission_denied
                                                : Errc::io;
    return Error(code, why(err));
}

// Reads a whole file with one open and as few reads as its size allows: /proc files report
// size 0, so the buffer grows instead.
Result<std::string> read_whole(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(errno_to_error(errno));
    }
    struct stat st {};
    size_t chunk = ::fstat(fd, &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1
                                                             : 4096;
    std::string out;
    size_t used = 0;
    for (;;) {
        out.resize(used + chunk);
        ssize_t n = ::read(fd, out.data() + used, chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return fail(errno_to_error(err));
        }
        if (n == 0) {
            break;
        }
        used += static_cast<size_t>(n);
        chunk = std::max<size_t>(chunk, 4096);
    }
    ::close(fd);
    out.resize(used);
    return out;
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) {
        return fail(errno_to_error(errno));
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

int prefix_length(const sockaddr* mask, int family) {
    if (mask == nullptr) {
        return 0;
    }
    const auto* bytes =
        family == AF_INET
            ? reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr)
            : reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    int bits = 0;
    for (size_t i = 0; i < (family == AF_INET ? 4u : 16u); ++i) {
        bits += std::popcount(bytes[i]);
    }
    return bits;
}

// Finds the process holding each wanted socket inode by reading /proc/[pid]/fd links; stops as
// soon as every inode has an owner. Processes we may not inspect are skipped: not ours to see.
std::unordered_map<uint64_t, int64_t> socket_owners(const std::string& proc,
                                                    std::unordered_set<uint64_t> wanted) {
    std::unordered_map<uint64_t, int64_t> owners;
    DIR* dir = ::opendir(proc.c_str());
    if (dir == nullptr) {
        return owners;
    }
    while (const dirent* entry = ::readdir(dir)) {
        int64_t pid = 0;
        if (!parse_number(std::string_view(entry->d_name), pid)) {
            continue;
        }
        int fd_dir = ::open((proc + "/" + entry->d_name + "/fd").c_str(),
                            O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR* fds = fd_dir < 0 ? nullptr : ::fdopendir(fd_dir);
        if (fds == nullptr) {
            if (fd_dir >= 0) {
                ::close(fd_dir);
            }
            continue;
        }
        while (const dirent* fd = ::readdir(fds)) {
            if (fd->d_name[0] == '.') {
                continue;
            }
            char target[64];
            ssize_t n = ::readlinkat(fd_dir, fd->d_name, target, sizeof target);
            std::string_view link(target, n > 0 ? static_cast<size_t>(n) : 0);
            uint64_t inode = 0;
            if (link.starts_with("socket:[") && link.ends_with(']') &&
                parse_number(link.substr(8, link.size() - 9), inode) && wanted.erase(inode) != 0) {
                owners.emplace(inode, pid);
            }
        }
        ::closedir(fds);
        if (wanted.empty()) {
            break;
        }
    }
    ::closedir(dir);
    return owners;
}

// TCP sockets in LISTEN through sock_diag. The kernel answers from its listening hash alone,
// where each read of /proc/net/tcp walks every bucket of the established hash: about 2 ms per
// read on a host with 25 GB of memory, which would be most of our budget.
Result<std::vector<Socket>> tcp_listeners(std::string_view protocol, std::vector<uint64_t>& inodes) {
    const int family = protocol == "tcp" ? AF_INET : AF_INET6;
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        return fail(errno_to_error(errno));
    }
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.request.sdiag_family = static_cast<uint8_t>(family);
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = 1u << 10;  // TCP_LISTEN
    if (::send(fd, &message, sizeof message, 0) < 0) {
        int err = errno;
        ::close(fd);
        return fail(errno_to_error(err));
    }
    constexpr size_t k_header = (sizeof(nlmsghdr) + NLMSG_ALIGNTO - 1) & ~size_t{NLMSG_ALIGNTO - 1};
    std::vector<Socket> out;
    inodes.clear();
    std::vector<char> buffer(32768);
    for (;;) {
        ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? errno : EPROTO;
            ::close(fd);
            return fail(errno_to_error(err));
        }
        for (size_t at = 0, size = static_cast<size_t>(n); at + k_header <= size;) {
            nlmsghdr header;
            std::memcpy(&header, buffer.data() + at, sizeof header);
            if (header.nlmsg_len < k_header || at + header.nlmsg_len > size ||
                header.nlmsg_type == NLMSG_DONE || header.nlmsg_type == NLMSG_ERROR) {
                int err = header.nlmsg_type == NLMSG_DONE ? 0 : EPROTO;
                if (header.nlmsg_type == NLMSG_ERROR && header.nlmsg_len >= k_header + sizeof(int)) {
                    std::memcpy(&err, buffer.data() + at + k_header, sizeof err);
                    err = -err;
                }
                ::close(fd);
                if (err != 0) {
                    return fail(errno_to_error(err));
                }
                return out;
            }
            inet_diag_msg diag{};
            std::memcpy(&diag, buffer.data() + at + k_header,
                        std::min(sizeof diag, header.nlmsg_len - k_header));
            char text[INET6_ADDRSTRLEN];
            if (inet_ntop(family, diag.id.idiag_src, text, sizeof text) != nullptr) {
                Socket& socket = out.emplace_back();
                socket.protocol = protocol;
                socket.address = text;
                socket.port = ntohs(diag.id.idiag_sport);
                inodes.push_back(diag.idiag_inode);
            }
            at += (header.nlmsg_len + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
        }
    }
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
constexpr VmVendor k_vm_vendors[] = {
    {"QEMU", "kvm"},   {"KVM", "kvm"}, {"VMware", "vmware"}, {"VirtualBox", "virtualbox"},
    {"innotek", "virtualbox"}, {"Xen", "xen"}, {"Amazon EC2", "amazon"}, {"Google", "google"}};

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
        auto text = read_whole(real);
        if (!text) {
            problem(section, real, text.error().message());
            return std::nullopt;
        }
        return std::move(*text);
    }

    std::string read_quiet(std::string_view logical) const {
        auto text = read_whole(path(logical));
        return text ? std::move(*text) : std::string();
    }

    // Read once: both the os (hypervisor flag) and cpu sections need it; only the cpu section
    // reports a failure, for the os section it is one probe among several.
    const Result<std::string>& cpuinfo() {
        if (!m_cpuinfo) {
            m_cpuinfo = read_whole(path("/proc/cpuinfo"));
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
    auto release = read_whole(path("/etc/os-release"));
    if (!release) {
        release = read_whole(path("/usr/lib/os-release"));
    }
    if (release) {
        parse_os_release(*release, os);
    } else {
        problem("os", path("/etc/os-release"), release.error().message());
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
        problem("cpu", path("/proc/cpuinfo"), text.error().message());
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
        problem("network.interfaces", path("/sys/class/net"), names.error().message());
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
        const void* raw =
            family == AF_INET
                ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr)
                : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr);
        char text[INET6_ADDRSTRLEN];
        // Alias labels ("eth0:1") belong to their device.
        std::string_view device = std::string_view(a->ifa_name).substr(0, std::string_view(a->ifa_name).find(':'));
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
        auto text = read_whole(real);
        // Without IPv6 in the kernel the *6 tables are absent, which is no failure.
        if (!text && !(protocol.ends_with('6') && text.error().code() == Errc::not_found)) {
            problem("network.listening", real, text.error().message());
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
    auto text = read_whole(real);
    if (!text && text.error().code() == Errc::not_found) {
        problem("packages", "no dpkg status file at " + real,
                "this host has no Debian package database");
    } else if (!text) {
        problem("packages", real, text.error().message());
    } else {
        m_facts.packages = parse_dpkg_status(*text);
    }
}

void Gatherer::services() {
    ServiceFacts& out = m_facts.services;
    if (!is_directory(path("/run/systemd/system"))) {
        out.note = "systemd is not running on this host (no /run/systemd/system): services are "
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
            for (const std::string& unit : list_dir(etc + "/" + dir).value_or(std::vector<std::string>{})) {
                size_t at = unit.find('@');
                enabled.insert(at == std::string::npos ? unit : unit.substr(0, at + 1) + ".service");
            }
        }
    }
    std::map<std::string, std::string> states;
    std::set<std::pair<dev_t, ino_t>> seen;  // /lib is /usr/lib on merged-/usr systems
    for (std::string_view dir : {"/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}) {
        std::string real = path(dir);
        struct stat st {};
        if (::stat(real.c_str(), &st) == 0 && !seen.emplace(st.st_dev, st.st_ino).second) {
            continue;
        }
        auto names = list_dir(real);
        if (!names) {
            if (!dir.starts_with("/usr")) {
                problem("services", real, names.error().message());
            }
            continue;
        }
        for (const std::string& name : *names) {
            if (!name.ends_with(".service") || states.contains(name)) {
                continue;
            }
            std::string file = real + "/" + name;
            std::string link = read_link(file);
            if (link == "/dev/null") {
                states.emplace(name, "masked");
            } else if (enabled.contains(name) || (!link.empty() && dir.starts_with("/etc"))) {
                // A link in /etc/systemd/system is an Alias= that `systemctl enable` made.
                states.emplace(name, "enabled");
            } else if (auto text = read_whole(file); !text) {
                problem("services", file, text.error().message());
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
        {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC},   {"core", RLIMIT_CORE},
        {"memlock", RLIMIT_MEMLOCK}, {"stack", RLIMIT_STACK}, {"as", RLIMIT_AS},
        {"fsize", RLIMIT_FSIZE},   {"cpu", RLIMIT_CPU}};
    for (const auto& [name, resource] : k_rlimits) {
        rlimit limit{};
        if (!m_host) {
            break;  // the limits of this process say nothing about another root's host
        }
        if (::getrlimit(resource, &limit) != 0) {
            int err = errno;
            problem("limits", std::string("getrlimit ") + name, why(err));
            continue;
        }
        uint64_t soft = limit.rlim_cur;
        out.rlimits[name] = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : soft;
    }
    for (std::string_view key : {"fs.file-max", "fs.nr_open", "net.core.somaxconn",
                                 "net.ipv4.ip_local_port_range", "vm.max_map_count",
                                 "kernel.pid_max"}) {
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
        parse_cgroup(*self, [this](const std::string& logical) { return read_quiet(logical); }, out);
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
        {"os", &Gatherer::os},           {"cpu", &Gatherer::cpu},
        {"memory", &Gatherer::memory},   {"mounts", &Gatherer::mounts},
        {"network", &Gatherer::network}, {"packages", &Gatherer::packages},
        {"services", &Gatherer::services}, {"limits", &Gatherer::limits},
        {"env", &Gatherer::env}};
    HostFacts facts;
    facts.host = "localhost";
    facts.collected_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    for (const std::string& name : options.sections) {
        if (std::find(k_sections.begin(), k_sections.end(), name) == k_sections.end()) {
            std::string known;
            for (const std::string& section : k_sections) {
                known.append(known.empty() ? "" : ", ").append(section);
            }
            facts.problems.push_back("sections: unknown section '" + name + "' (expected one of: " +
                                     known + ")");
        }
    }
    Gatherer gatherer(options, facts);
    for (const auto& [name, gather] : k_gatherers) {
        if (options.sections.empty() ||
            std::find(options.sections.begin(), options.sections.end(), name) !=
                options.sections.end()) {
            (gatherer.*gather)();
        }
    }
    return facts;
}

}  // namespace shipshape::facts
