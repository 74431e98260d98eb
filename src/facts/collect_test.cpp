#include "facts/collect.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include "core/testing/skip.hpp"
#include "facts/facts_test_fixture.hpp"

namespace shipshape::facts {
namespace {

using namespace shipshape::facts::fixture;  // NOLINT(google-build-using-namespace)

// ---- os-release ----------------------------------------------------------------------------

TEST(ParseOsRelease, HandlesShellQuoting) {
    struct Row {
        const char* text;
        std::vector<std::string> expected;  // id, name, version_id, codename
    };
    const Row rows[] = {
        // Debian's own file: double-quoted values, unquoted ID and VERSION_CODENAME.
        {"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
         "VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
         {"debian", "Debian GNU/Linux 12 (bookworm)", "12", "bookworm"}},
        // Unquoted values are taken as they are.
        {"ID=ubuntu\nVERSION_ID=22.04\nPRETTY_NAME=Ubuntu\n", {"ubuntu", "Ubuntu", "22.04", ""}},
        // Single quotes are literal: backslashes stay.
        {"PRETTY_NAME='A \\\"b\\\" $x'\n", {"", "A \\\"b\\\" $x", "", ""}},
        // Double quotes know \" \\ \$ \` and keep any other backslash.
        {"PRETTY_NAME=\"My \\\"OS\\\" \\\\ \\$HOME \\`x\\` \\n\"\n",
         {"", "My \"OS\" \\ $HOME `x` \\n", "", ""}},
        // Comments, blank lines, indentation, CRLF and unknown keys are ignored.
        {"# ID=commented\n\n  ID=arch \r\nBUILD_ID=rolling\n", {"arch", "", "", ""}},
        // An empty quoted value is empty, not a pair of quotes.
        {"VERSION_ID=\"\"\nID=''\n", {"", "", "", ""}},
        // Lines without '=' are skipped rather than misread.
        {"garbage\nID=alpine\n", {"alpine", "", "", ""}},
    };
    for (const auto& row : rows) {
        OsFacts os;
        parse_os_release(row.text, os);
        EXPECT_EQ((std::vector<std::string>{os.id, os.name, os.version_id, os.codename}),
                  row.expected)
            << row.text;
    }
}

TEST(ParseDebianVersion, TakesThePointReleaseOnly) {
    struct Row {
        const char* text;
        const char* expected;
    };
    const Row rows[] = {
        {"12.11\n", "12.11"},              // a stable point release, as Facter's os.release.full
        {"12.4", "12.4"},                  // no trailing newline
        {"  11.9 \r\n", "11.9"},           // blanks and CRLF trimmed
        {"trixie/sid\n", ""},              // testing and unstable: no point release
        {"bookworm/sid\n", ""},            // nor does a derivative such as Ubuntu
        {"", ""},                          // an empty file
        {"10.13\nextra line\n", "10.13"},  // only the first line counts
    };
    for (const auto& row : rows) {
        EXPECT_EQ(parse_debian_version(row.text), row.expected) << row.text;
    }
}

// ---- cpuinfo, meminfo ----------------------------------------------------------------------

TEST(ParseCpuinfo, CountsThreadsAndPhysicalCores) {
    const char* xeon = "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz";
    std::string two_sockets;  // 2 sockets x 2 cores x 2 hyper-threads
    for (int i = 0; i < 8; ++i) {
        two_sockets += cpuinfo_entry(i, xeon, i / 4, (i / 2) % 2);
    }
    std::string no_topology;
    for (int i = 0; i < 3; ++i) {
        no_topology += cpuinfo_entry(i, "QEMU Virtual CPU", -1, -1);
    }
    struct Row {
        std::string text;
        CpuFacts expected;
    };
    const Row rows[] = {
        // Unique (physical id, core id) pairs are the cores; every processor is a thread.
        {two_sockets, {xeon, 4, 8}},
        // Without topology fields (many VMs), cores equal threads.
        {no_topology, {"QEMU Virtual CPU", 3, 3}},
        // ARM: no model name, no trailing blank line; still counted.
        {"processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\nBogoMIPS\t: 50.00", {"", 2, 2}},
        // Empty input is zero CPUs, not a crash.
        {"", {"", 0, 0}},
    };
    for (const auto& row : rows) {
        CpuFacts cpu = parse_cpuinfo(row.text);
        EXPECT_EQ(cpu.model, row.expected.model) << row.text;
        EXPECT_EQ(cpu.cores, row.expected.cores) << row.text;
        EXPECT_EQ(cpu.threads, row.expected.threads) << row.text;
    }
}

TEST(ParseMeminfo, ConvertsKilobytesToBytes) {
    struct Row {
        const char* text;
        MemoryFacts expected;
    };
    const Row rows[] = {
        // The four fields of a real file, kB becoming bytes; other fields ignored.
        {"MemTotal:       16318480 kB\nMemFree:         1000000 kB\nMemAvailable:   12000000 kB\n"
         "Buffers:          200000 kB\nSwapTotal:       2097148 kB\nSwapFree:        2097000 kB\n"
         "HugePages_Total:       0\n",
         {16318480ull * 1024, 12000000ull * 1024, 2097148ull * 1024, 2097000ull * 1024}},
        // Old kernels without MemAvailable leave it 0; no swap is 0.
        {"MemTotal: 1024 kB\nSwapTotal: 0 kB\n", {1024ull * 1024, 0, 0, 0}},
        // A malformed number is skipped, not half-parsed.
        {"MemTotal: 12x4 kB\nSwapFree: 8 kB\n", {0, 0, 0, 8192}},
    };
    for (const auto& row : rows) {
        MemoryFacts memory = parse_meminfo(row.text);
        EXPECT_EQ(memory.total, row.expected.total) << row.text;
        EXPECT_EQ(memory.available, row.expected.available) << row.text;
        EXPECT_EQ(memory.swap_total, row.expected.swap_total) << row.text;
        EXPECT_EQ(memory.swap_free, row.expected.swap_free) << row.text;
    }
}

// ---- mounts --------------------------------------------------------------------------------

TEST(ParseMounts, DecodesEscapesAndSkipsPseudoFileSystems) {
    struct Row {
        const char* text;
        std::vector<std::string> expected;
    };
    const Row rows[] = {
        // Real disks stay, kernel pseudo file systems go.
        {"proc /proc proc rw 0 0\nsysfs /sys sysfs rw 0 0\n/dev/vda1 / ext4 rw 0 0\n"
         "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\ndevpts /dev/pts devpts rw 0 0\n"
         "tmpfs /run tmpfs rw 0 0\n",
         {"/dev/vda1|/|ext4", "tmpfs|/run|tmpfs"}},
        // \040 is a space, \011 a tab, \134 a backslash, in both device and path.
        {"/dev/sdb1 /media/My\\040Disk vfat rw 0 0\n//srv/a\\134b /mnt/tab\\011x cifs rw 0 0\n",
         {"/dev/sdb1|/media/My Disk|vfat", "//srv/a\\b|/mnt/tab\tx|cifs"}},
        // A backslash not followed by three octal digits is kept as it is.
        {"/dev/x /mnt/a\\09 ext4 rw 0 0\n", {"/dev/x|/mnt/a\\09|ext4"}},
        // A second mount on the same path hides the first: only the last one is reported.
        {"tmpfs /dev/shm tmpfs rw 0 0\n/dev/vdb /data xfs rw 0 0\nshm /dev/shm tmpfs rw 0 0\n",
         {"shm|/dev/shm|tmpfs", "/dev/vdb|/data|xfs"}},
        // Short or empty lines are ignored.
        {"\nbroken /x\n", {}},
    };
    for (const auto& row : rows) {
        EXPECT_EQ(mount_rows(parse_mounts(row.text)), row.expected) << row.text;
    }
}

// ---- dpkg status ---------------------------------------------------------------------------

std::vector<std::string> package_rows(const std::vector<Package>& packages) {
    std::vector<std::string> out;
    out.reserve(packages.size());
    for (const Package& p : packages) {
        out.push_back(p.name + " " + p.version + " " + p.architecture + " " + p.status);
    }
    return out;
}

TEST(ParseDpkgStatus, ReadsStanzasAndSkipsNotInstalled) {
    struct Row {
        const char* text;
        std::vector<std::string> expected;
    };
    const Row rows[] = {
        // A realistic file: half-installed and config-files stay, not-installed goes,
        // continuation lines (even one that looks like "Package:") are skipped, and the result
        // is sorted by name then architecture; the last stanza needs no trailing blank line.
        {k_dpkg_status,
         {"base-files 12.4+deb12u5 amd64 installed", "broken-upgrade 2.0-1 all half-installed",
          "removed-tool 0.9-3 amd64 config-files", "zlib1g 1:1.2.13.dfsg-1 amd64 installed",
          "zlib1g 1:1.2.13.dfsg-1 i386 installed"}},
        // A stanza without Status is not a package dpkg knows to be on the host.
        {"Package: ghost\nVersion: 1\n\n", {}},
        // Several blank lines between stanzas and CRLF-free trailing spaces are tolerated.
        {"\n\nPackage: a\nStatus: hold ok installed  \nVersion: 1 \nArchitecture: all\n\n\n",
         {"a 1 all installed"}},
        // Empty file: no packages.
        {"", {}},
    };
    for (const auto& row : rows) {
        EXPECT_EQ(package_rows(parse_dpkg_status(row.text)), row.expected) << row.text;
    }
}

TEST(ParseDpkgStatus, HandlesAGeneratedFileOf500Packages) {
    std::string text;
    int expected = 0;
    for (int i = 499; i >= 0; --i) {  // written in reverse to prove the sort
        char name[32];
        std::snprintf(name, sizeof name, "pkg%03d", i);
        const char* status = i % 50 == 0   ? "purge ok not-installed"
                             : i % 7 == 0  ? "deinstall ok config-files"
                             : i % 11 == 0 ? "install reinstreq half-installed"
                                           : "install ok installed";
        expected += i % 50 == 0 ? 0 : 1;
        text += std::string("Package: ") + name + "\nStatus: " + status +
                "\nPriority: optional\nInstalled-Size: " + std::to_string(i * 3) +
                "\nArchitecture: " + (i % 2 == 0 ? "amd64" : "all") +
                "\nVersion: " + std::to_string(i) +
                ".0-1\nDepends: libc6 (>= 2.34), zlib1g (>= 1:1.1.4)\n" + "Description: package " +
                name + "\n a long description\n .\n second paragraph\n\n";
    }
    auto packages = parse_dpkg_status(text);
    ASSERT_EQ(static_cast<int>(packages.size()), expected);
    EXPECT_TRUE(std::is_sorted(packages.begin(), packages.end(),
                               [](const Package& a, const Package& b) { return a.name < b.name; }));
    EXPECT_EQ(
        package_rows({packages.front(), packages.back()}),
        (std::vector<std::string>{"pkg001 1.0-1 all installed", "pkg499 499.0-1 all installed"}));
    auto find = [&](const std::string& name) {
        return *std::find_if(packages.begin(), packages.end(),
                             [&](const Package& p) { return p.name == name; });
    };
    EXPECT_EQ(find("pkg014").status, "config-files");
    EXPECT_EQ(find("pkg022").status, "half-installed");
    EXPECT_EQ(find("pkg022").architecture, "amd64");
}

// ---- /proc/net -----------------------------------------------------------------------------

std::vector<std::string> socket_rows(const std::vector<Socket>& sockets,
                                     const std::vector<uint64_t>& inodes) {
    std::vector<std::string> out;
    for (size_t i = 0; i < sockets.size(); ++i) {
        out.push_back(sockets[i].protocol + " " + sockets[i].address + " " +
                      std::to_string(sockets[i].port) + " " + std::to_string(inodes.at(i)));
    }
    return out;
}

TEST(ParseProcNet, DecodesListeningSockets) {
    struct Row {
        std::string text;
        const char* protocol;
        std::vector<std::string> expected;
    };
    const Row rows[] = {
        // 0100007F:1F90 in LISTEN (0A) is 127.0.0.1:8080; an established connection is not.
        {k_tcp_header + proc_net_line(0, "0100007F:1F90", "00000000:0000", "0A", "31337") +
             proc_net_line(1, "0100007F:1F90", "0100007F:D431", "01", "31338") +
             proc_net_line(2, "00000000:0016", "00000000:0000", "0A", "1234"),
         "tcp",
         {"tcp 127.0.0.1 8080 31337", "tcp 0.0.0.0 22 1234"}},
        // IPv6 words are little-endian 32-bit groups: ::1, ::, fe80::1, 2001:db8::5 and a
        // v4-mapped address.
        {k_tcp_header +
             proc_net_line(0, "00000000000000000000000001000000:0050",
                           "00000000000000000000000000000000:0000", "0A", "11") +
             proc_net_line(1, "00000000000000000000000000000000:01BB",
                           "00000000000000000000000000000000:0000", "0A", "12") +
             proc_net_line(2, "000080FE000000000000000001000000:0016",
                           "00000000000000000000000000000000:0000", "0A", "13") +
             proc_net_line(3, "B80D0120000000000000000005000000:0019",
                           "00000000000000000000000000000000:0000", "0A", "14") +
             proc_net_line(4, "0000000000000000FFFF00000100007F:0CEA",
                           "00000000000000000000000000000000:0000", "0A", "15"),
         "tcp6",
         {"tcp6 ::1 80 11", "tcp6 :: 443 12", "tcp6 fe80::1 22 13", "tcp6 2001:db8::5 25 14",
          "tcp6 ::ffff:127.0.0.1 3306 15"}},
        // UDP: bound unconnected sockets show state 07; a connected one (01) is not listening,
        // and 0A means nothing for UDP.
        {k_tcp_header + proc_net_line(0, "3500007F:0035", "00000000:0000", "07", "900") +
             proc_net_line(1, "0F02000A:E3C5", "08080808:0035", "01", "901") +
             proc_net_line(2, "00000000:0036", "00000000:0000", "0A", "902"),
         "udp",
         {"udp 127.0.0.53 53 900"}},
        // udp6 uses the IPv6 layout: [::]:5353.
        {k_tcp_header + proc_net_line(0, "00000000000000000000000000000000:14E9",
                                      "00000000000000000000000000000000:0000", "07", "7"),
         "udp6",
         {"udp6 :: 5353 7"}},
        // TCP_CLOSE (07) on a TCP socket is not a listener.
        {k_tcp_header + proc_net_line(0, "00000000:0036", "00000000:0000", "07", "6"), "tcp", {}},
        // Malformed lines (bad address length, missing fields) are skipped.
        {std::string(k_tcp_header) +
             "   0: 0100:1F90 00000000:0000 0A 0 0 0 0 0 7\n   1: garbage\n",
         "tcp",
         {}},
    };
    for (const auto& row : rows) {
        std::vector<uint64_t> inodes{99};  // stale content is replaced
        auto sockets = parse_proc_net(row.text, row.protocol, inodes);
        EXPECT_EQ(socket_rows(sockets, inodes), row.expected) << row.text;
        EXPECT_EQ(inodes.size(), sockets.size());
    }
}

TEST(ParseProcRoute, FindsTheDefaultRoute) {
    const std::string header =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
    struct Row {
        std::string text;
        const char* gateway;
        const char* interface;
    };
    const Row rows[] = {
        // The 0.0.0.0/0 route through a gateway (flags UP|GATEWAY), little-endian hex.
        {header + "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                  "eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
         "192.168.1.1", "eth0"},
        // Of two default routes the lower metric wins, whatever the order.
        {header + "wlan0\t00000000\t0100000A\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
                  "eth1\t00000000\tFE01A8C0\t0003\t0\t0\t50\t00000000\t0\t0\t0\n",
         "192.168.1.254", "eth1"},
        // A default route straight onto a device (no GATEWAY flag) has no gateway.
        {header + "wg0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n", "", "wg0"},
        // A route that is down is not the default.
        {header + "eth0\t00000000\t0101A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n", "", ""},
        // No default route at all.
        {header + "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", "", ""},
    };
    for (const auto& row : rows) {
        NetworkFacts net;
        parse_proc_route(row.text, net);
        EXPECT_EQ(net.default_gateway, row.gateway) << row.text;
        EXPECT_EQ(net.default_interface, row.interface) << row.text;
    }
}

TEST(ParseResolvConf, ReadsNameservers) {
    struct Row {
        const char* text;
        std::vector<std::string> expected;
    };
    const Row rows[] = {
        // Nameservers in order, IPv6 included; search and options lines ignored.
        {"search example.com\nnameserver 10.0.0.2\nnameserver 2001:4860:4860::8888\n"
         "options edns0 trust-ad\n",
         {"10.0.0.2", "2001:4860:4860::8888"}},
        // Comments with '#' and ';' are not nameservers, indentation and tabs are fine.
        {"# nameserver 1.1.1.1\n; nameserver 8.8.8.8\n  nameserver\t127.0.0.53  \n",
         {"127.0.0.53"}},
        // A nameserver keyword without an address is skipped.
        {"nameserver\nnameserver 9.9.9.9", {"9.9.9.9"}},
    };
    for (const auto& row : rows) {
        EXPECT_EQ(parse_resolv_conf(row.text), row.expected) << row.text;
    }
}

// ---- cgroups -------------------------------------------------------------------------------

TEST(ParseCgroup, ReadsV1AndV2Limits) {
    using Files = std::map<std::string, std::string>;
    struct Row {
        const char* self;
        Files files;
        int version;
        std::optional<uint64_t> memory;
        std::optional<double> cpu;
    };
    const Row rows[] = {
        // v2 with limits: 512 MiB and "50000 100000" = half a CPU.
        {"0::/app.slice/web.service\n",
         {{"/sys/fs/cgroup/app.slice/web.service/memory.max", "536870912\n"},
          {"/sys/fs/cgroup/app.slice/web.service/cpu.max", "50000 100000\n"}},
         2,
         536870912,
         0.5},
        // v2 unlimited: "max" and "max 100000".
        {"0::/user.slice\n",
         {{"/sys/fs/cgroup/user.slice/memory.max", "max\n"},
          {"/sys/fs/cgroup/user.slice/cpu.max", "max 100000\n"}},
         2,
         std::nullopt,
         std::nullopt},
        // v2 in a container: the host's path is not below our mount, so the root files count.
        {"0::/system.slice/docker-abc.scope\n",
         {{"/sys/fs/cgroup/memory.max", "1073741824\n"},
          {"/sys/fs/cgroup/cpu.max", "200000 100000\n"}},
         2,
         1073741824,
         2.0},
        // v2 path leaving the cgroup namespace is read at the root, never outside it.
        {"0::/../../other\n", {{"/sys/fs/cgroup/memory.max", "4096\n"}}, 2, 4096, std::nullopt},
        // v1 with limits: memory and the joint cpu,cpuacct hierarchy.
        {"12:pids:/docker/abc\n4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
         {{"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "268435456\n"},
          {"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n"},
          {"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n"}},
         1,
         268435456,
         1.5},
        // v1 unlimited: the page-rounded LONG_MAX and a quota of -1.
        {"4:memory:/\n3:cpu,cpuacct:/\n",
         {{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"},
          {"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n"},
          {"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n"}},
         1,
         std::nullopt,
         std::nullopt},
        // v1 in a container: path dirs missing, so the controller roots; "cpu" mounted alone.
        {"4:memory:/kubepods/pod1\n1:cpu:/kubepods/pod1\n2:cpuacct:/kubepods/pod1\n",
         {{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "134217728\n"},
          {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "25000\n"},
          {"/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n"}},
         1,
         134217728,
         0.25},
        // v1 listed as "cpu,cpuacct" but mounted only as "cpu": the controller's own name.
        {"3:cpu,cpuacct:/x\n",
         {{"/sys/fs/cgroup/cpu/x/cpu.cfs_quota_us", "100000\n"},
          {"/sys/fs/cgroup/cpu/x/cpu.cfs_period_us", "100000\n"}},
         1,
         std::nullopt,
         1.0},
        // Hybrid hosts (v1 controllers plus an empty "0::/" line) are v1.
        {"4:memory:/\n1:cpu:/\n0::/\n",
         {{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"}},
         1,
         std::nullopt,
         std::nullopt},
        // Nothing readable: version unknown, no limits.
        {"", {}, 0, std::nullopt, std::nullopt},
    };
    for (const auto& row : rows) {
        LimitFacts limits;
        parse_cgroup(
            row.self,
            [&](const std::string& path) {
                auto it = row.files.find(path);
                return it == row.files.end() ? std::string() : it->second;
            },
            limits);
        EXPECT_EQ(limits.cgroup_version, row.version) << row.self;
        EXPECT_EQ(limits.cgroup_memory_limit, row.memory) << row.self;
        EXPECT_EQ(limits.cgroup_cpu_limit, row.cpu) << row.self;
    }
}

}  // namespace
}  // namespace shipshape::facts
