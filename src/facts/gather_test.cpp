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

// ---- gather_facts on fixture trees ---------------------------------------------------------

GatherOptions options(std::string root, std::vector<std::string> sections,
                      std::vector<std::string> env_names = {}) {
    GatherOptions out;
    out.root = std::move(root);
    out.sections = std::move(sections);
    out.env_names = std::move(env_names);
    return out;
}

class FixtureRoot {
  public:
    FixtureRoot() {
        char tmpl[] = "/tmp/shipshape-facts-test-XXXXXX";
        const char* dir = ::mkdtemp(tmpl);
        EXPECT_NE(dir, nullptr);
        m_root = dir == nullptr ? "/nonexistent" : dir;
    }
    ~FixtureRoot() {
        std::error_code ignored;
        std::filesystem::remove_all(m_root, ignored);
    }
    FixtureRoot(const FixtureRoot&) = delete;
    FixtureRoot& operator=(const FixtureRoot&) = delete;

    const std::string& root() const { return m_root; }

    void write(const std::string& path, const std::string& text) const {
        std::filesystem::path file = m_root + path;
        std::error_code ec;
        std::filesystem::create_directories(file.parent_path(), ec);
        std::ofstream(file, std::ios::binary) << text;
    }
    void link(const std::string& path, const std::string& target) const {
        std::filesystem::path file = m_root + path;
        std::error_code ec;
        std::filesystem::create_directories(file.parent_path(), ec);
        std::filesystem::create_symlink(target, file, ec);
        EXPECT_FALSE(ec) << path;
    }
    void mkdir(const std::string& path) const {
        std::error_code ec;
        std::filesystem::create_directories(m_root + path, ec);
    }

  private:
    std::string m_root;
};

TEST(GatherFacts, ReadsAFixtureRoot) {
    FixtureRoot fx;
    fx.write("/etc/os-release",
             "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
             "VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n");
    fx.write("/etc/debian_version", "12.11\n");
    fx.write("/proc/sys/kernel/osrelease", "6.1.0-18-amd64\n");
    fx.write("/proc/sys/kernel/hostname", "web1\n");
    fx.write("/proc/sys/kernel/arch", "aarch64\n");
    fx.write("/proc/stat", "cpu  1 2 3\nintr 5 6\nbtime 1700000000\nprocesses 42\n");
    fx.write("/proc/cpuinfo",
             cpuinfo_entry(0, "Neoverse", 0, 0) + cpuinfo_entry(1, "Neoverse", 0, 1));
    fx.write("/proc/meminfo", "MemTotal: 2048 kB\nMemAvailable: 1024 kB\n");
    fx.write(
        "/proc/self/mounts",
        "proc /proc proc rw 0 0\n/dev/vda1 / ext4 rw 0 0\n/dev/vdb /srv/my\\040data xfs rw 0 0\n");
    fx.write("/var/lib/dpkg/status", k_dpkg_status);
    fx.write("/proc/net/tcp", k_tcp_header +
                                  proc_net_line(0, "00000000:0050", "00000000:0000", "0A", "4242") +
                                  proc_net_line(1, "0100007F:1F90", "00000000:0000", "0A", "4243"));
    fx.link("/proc/123/fd/0", "/dev/null");
    fx.link("/proc/123/fd/7", "socket:[4242]");
    fx.write("/proc/123/comm", "nginx\n");
    fx.write("/proc/self/cgroup", "0::/app.slice/web.service\n");
    fx.write("/sys/fs/cgroup/app.slice/web.service/memory.max", "536870912\n");
    fx.write("/sys/fs/cgroup/app.slice/web.service/cpu.max", "max 100000\n");
    fx.write("/proc/sys/net/core/somaxconn", "4096\n");
    fx.write("/proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");

    HostFacts facts = gather_facts(options(fx.root() + "/", {}, {"PATH"}));
    EXPECT_EQ(facts.host, "localhost");
    EXPECT_GT(facts.collected_at, 1'700'000'000'000);
    EXPECT_EQ(facts.os.id, "debian");
    EXPECT_EQ(facts.os.codename, "bookworm");
    EXPECT_EQ(facts.os.version_id, "12");
    EXPECT_EQ(facts.os.release, "12.11");
    EXPECT_EQ(facts.os.kernel, "6.1.0-18-amd64");
    EXPECT_EQ(facts.os.hostname, "web1");
    EXPECT_EQ(facts.os.architecture, "aarch64");  // from the fixture, not from uname()
    EXPECT_EQ(facts.os.boot_time, 1700000000);
    EXPECT_EQ(facts.os.virtualization, "none");
    EXPECT_EQ(facts.cpu.model, "Neoverse");
    EXPECT_EQ(facts.cpu.threads, 2);
    EXPECT_EQ(facts.memory.total, 2048u * 1024);
    EXPECT_EQ(mount_rows(facts.mounts),
              (std::vector<std::string>{"/dev/vda1|/|ext4", "/dev/vdb|/srv/my data|xfs"}));
    EXPECT_EQ(facts.mounts.at(0).size, 0u);  // statvfs only on the host itself
    EXPECT_EQ(facts.packages.size(), 5u);
    ASSERT_EQ(facts.network.listening.size(), 2u);
    EXPECT_EQ(facts.network.listening[0].port, 80);
    EXPECT_EQ(facts.network.listening[0].pid, 123);
    EXPECT_EQ(facts.network.listening[0].process, "nginx");
    EXPECT_EQ(facts.network.listening[1].address, "127.0.0.1");
    EXPECT_EQ(facts.network.listening[1].pid, 0);  // no process holds inode 4243
    EXPECT_FALSE(facts.services.systemd);
    EXPECT_EQ(facts.services.note,
              "systemd is not running on this host (no /run/systemd/system): services are not "
              "listed");
    EXPECT_TRUE(facts.limits.rlimits.empty());  // this process's limits are not the fixture's
    EXPECT_EQ(facts.limits.sysctl, (std::map<std::string, std::string>{
                                       {"net.core.somaxconn", "4096"},
                                       {"net.ipv4.ip_local_port_range", "32768 60999"}}));
    EXPECT_EQ(facts.limits.cgroup_version, 2);
    EXPECT_EQ(facts.limits.cgroup_memory_limit, 536870912u);
    EXPECT_EQ(facts.limits.cgroup_cpu_limit, std::nullopt);
    EXPECT_TRUE(facts.env_names.empty());
    const std::string& r = fx.root();
    EXPECT_EQ(facts.problems,
              (std::vector<std::string>{
                  "network.interfaces: " + r + "/sys/class/net: no such file or directory",
                  "network.route: " + r + "/proc/net/route: no such file or directory",
                  "network.dns: " + r + "/etc/resolv.conf: no such file or directory",
                  "network.listening: " + r + "/proc/net/udp: no such file or directory",
                  "limits: " + r + "/proc/sys/fs/file-max: no such file or directory",
                  "limits: " + r + "/proc/sys/fs/nr_open: no such file or directory",
                  "limits: " + r + "/proc/sys/vm/max_map_count: no such file or directory",
                  "limits: " + r + "/proc/sys/kernel/pid_max: no such file or directory",
                  "env: " + r + ": environment variables are read only on the local host (root /)",
              }));
}

TEST(GatherFacts, ReleaseFallsBackToVersionIdWithoutDebianVersion) {
    FixtureRoot fx;
    fx.write("/etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n");
    HostFacts facts = gather_facts(options(fx.root(), {"os"}));
    EXPECT_EQ(facts.os.release, "22.04");
    // A missing /etc/debian_version is normal off Debian: not a problem.
    for (const auto& p : facts.problems) {
        EXPECT_EQ(p.find("debian_version"), std::string::npos) << p;
    }
    fx.write("/etc/debian_version", "bookworm/sid\n");
    EXPECT_EQ(gather_facts(options(fx.root(), {"os"})).os.release, "22.04");
}

TEST(GatherFacts, ReportsEveryMissingFileOfAnEmptyRoot) {
    FixtureRoot fx;
    const std::string& r = fx.root();
    HostFacts facts = gather_facts(options(r, {"os", "cpu", "packages", "bogus"}));
    const std::string unknown =
        "sections: unknown section 'bogus' (expected one of: os, cpu, memory, mounts, network, "
        "packages, services, limits, env)";
    EXPECT_EQ(facts.os.virtualization, "none");
    EXPECT_TRUE(facts.packages.empty());
    EXPECT_EQ(facts.problems,
              (std::vector<std::string>{
                  unknown,
                  "os: " + r + "/etc/os-release: no such file or directory",
                  "os: " + r + "/proc/sys/kernel/osrelease: no such file or directory",
                  "os: " + r + "/proc/sys/kernel/hostname: no such file or directory",
                  "os: " + r + "/proc/stat: no such file or directory",
                  // Read once for the hypervisor flag and the cpu section; reported by cpu.
                  "cpu: " + r + "/proc/cpuinfo: no such file or directory",
                  "packages: no dpkg status file at " + r +
                      "/var/lib/dpkg/status: this host has no Debian package database",
              }));
}

TEST(GatherFacts, DetectsVirtualization) {
    using Files = std::vector<std::pair<std::string, std::string>>;
    struct Row {
        Files files;
        const char* expected;
    };
    const Row rows[] = {
        // Docker leaves /.dockerenv, which wins over everything else.
        {{{"/.dockerenv", ""}, {"/sys/class/dmi/id/sys_vendor", "QEMU\n"}}, "docker"},
        // Other container managers set container= in init's environment.
        {{{"/proc/1/environ", std::string("HOME=/\0container=lxc\0", 21)}}, "container"},
        // ... or write /run/systemd/container.
        {{{"/run/systemd/container", "podman\n"}}, "container"},
        // DMI names the hypervisor.
        {{{"/sys/class/dmi/id/sys_vendor", "QEMU\n"},
          {"/sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n"}},
         "kvm"},
        {{{"/sys/class/dmi/id/sys_vendor", "VMware, Inc.\n"}}, "vmware"},
        {{{"/sys/class/dmi/id/sys_vendor", "innotek GmbH\n"},
          {"/sys/class/dmi/id/product_name", "VirtualBox\n"}},
         "virtualbox"},
        {{{"/sys/class/dmi/id/sys_vendor", "Xen\n"}}, "xen"},
        {{{"/sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n"},
          {"/sys/class/dmi/id/product_name", "Virtual Machine\n"}},
         "hyperv"},
        {{{"/sys/class/dmi/id/sys_vendor", "Amazon EC2\n"}}, "amazon"},
        {{{"/sys/class/dmi/id/sys_vendor", "Google\n"},
          {"/sys/class/dmi/id/product_name", "Google Compute Engine\n"}},
         "google"},
        // A Surface laptop carries Microsoft's vendor string but is no VM.
        {{{"/sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n"},
          {"/sys/class/dmi/id/product_name", "Surface Laptop 5\n"}},
         "none"},
        // Unknown hypervisors still set the cpuinfo "hypervisor" flag.
        {{{"/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu sse hypervisor lahf_lm\n"}}, "vm"},
        // Bare metal: a "hypervisor" word elsewhere than in flags proves nothing.
        {{{"/proc/cpuinfo", "processor\t: 0\nmodel name\t: hypervisor\nflags\t\t: fpu sse\n"}},
         "none"},
    };
    for (const auto& row : rows) {
        FixtureRoot fx;
        for (const auto& [path, text] : row.files) {
            fx.write(path, text);
        }
        HostFacts facts = gather_facts(options(fx.root(), {"os"}));
        EXPECT_EQ(facts.os.virtualization, row.expected) << row.files.front().first;
    }
}

TEST(GatherFacts, ListsSystemdUnitFiles) {
    FixtureRoot fx;
    fx.mkdir("/run/systemd/system");
    fx.write("/lib/systemd/system/nginx.service",
             "[Unit]\nDescription=web\n[Service]\nExecStart=/usr/sbin/nginx\n\n[Install]\n"
             "WantedBy=multi-user.target\n");
    fx.write("/lib/systemd/system/cron.service",
             "[Service]\nExecStart=/usr/sbin/cron\n"
             "[Install]\nWantedBy=multi-user.target\n");
    fx.write("/lib/systemd/system/systemd-journald.service", "[Service]\nExecStart=/j\n");
    fx.write("/lib/systemd/system/empty-install.service", "[Service]\nExecStart=/x\n[Install]\n");
    fx.write("/lib/systemd/system/getty@.service",
             "[Service]\nExecStart=/sbin/agetty\n[Install]\nWantedBy=getty.target\n");
    fx.write("/lib/systemd/system/apache2.service", "[Install]\nWantedBy=multi-user.target\n");
    fx.write("/lib/systemd/system/ssh.socket", "[Install]\nWantedBy=sockets.target\n");
    fx.write("/etc/systemd/system/local.service", "[Service]\nExecStart=/l\n");
    fx.link("/etc/systemd/system/apache2.service", "/dev/null");
    fx.link("/etc/systemd/system/multi-user.target.wants/nginx.service",
            "/lib/systemd/system/nginx.service");
    fx.link("/etc/systemd/system/getty.target.wants/getty@tty1.service",
            "/lib/systemd/system/getty@.service");
    HostFacts facts = gather_facts(options(fx.root(), {"services"}));
    EXPECT_TRUE(facts.services.systemd);
    EXPECT_EQ(facts.services.note, "");
    std::vector<std::string> units;
    for (const Service& s : facts.services.units) {
        units.push_back(s.name + " " + s.state);
    }
    EXPECT_EQ(units, (std::vector<std::string>{
                         "apache2.service masked",        // linked to /dev/null in /etc
                         "cron.service disabled",         // has [Install], not linked anywhere
                         "empty-install.service static",  // an empty [Install] installs nothing
                         "getty@.service enabled",        // an instance of the template is wanted
                         "local.service static",          // an admin's unit without [Install]
                         "nginx.service enabled",         // linked into multi-user.target.wants
                         "systemd-journald.service static",  // no [Install] section
                     }));
    EXPECT_TRUE(facts.problems.empty()) << facts.problems.front();
}

// ---- ground truth on this machine ----------------------------------------------------------

std::string run(const char* command) {
    std::string out;
    FILE* pipe = ::popen(command, "r");
    if (pipe == nullptr) {
        return out;
    }
    char buffer[4096];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) {
        out.append(buffer, n);
    }
    ::pclose(pipe);
    return out;
}

// The e2e tests install and purge throw-away packages named so while this runs.
constexpr std::string_view k_throwaway = "shipshape-";

TEST(GatherFactsOnThisHost, PackagesMatchDpkgQuery) {
    if (::access("/var/lib/dpkg/status", R_OK) != 0) {
        SHIPSHAPE_SKIP_OR_FAIL("this host has no dpkg database");
    }
    std::string listing =
        run("dpkg-query -W -f='${db:Status-Status} ${binary:Package} ${Version}\\n'");
    std::multiset<std::string> expected;
    std::string_view rest = listing;
    while (!rest.empty()) {
        std::string_view line = rest.substr(0, rest.find('\n'));
        rest.remove_prefix(std::min(rest.size(), line.size() + 1));
        if (!line.starts_with("installed ")) {
            continue;
        }
        line.remove_prefix(10);
        if (line.starts_with(k_throwaway)) {
            continue;
        }
        // dpkg-query spells Multi-Arch: same packages "name:arch"; our name has no arch.
        size_t space = line.find(' ');
        std::string_view name = line.substr(0, std::min(line.find(':'), space));
        expected.insert(std::string(name) + " " + std::string(line.substr(space + 1)));
    }
    ASSERT_GT(expected.size(), 10u);
    HostFacts facts = gather_facts(options("/", {"packages"}));
    std::multiset<std::string> ours;
    for (const Package& p : facts.packages) {
        if (p.status == "installed" && !p.name.starts_with(k_throwaway)) {
            ours.insert(p.name + " " + p.version);
        }
    }
    EXPECT_EQ(ours, expected);
    EXPECT_TRUE(facts.problems.empty());
}

TEST(GatherFactsOnThisHost, CpuAndMemoryMatchSysconf) {
    HostFacts facts = gather_facts(options("/", {"cpu", "memory"}));
    EXPECT_EQ(facts.cpu.threads, ::sysconf(_SC_NPROCESSORS_ONLN));
    EXPECT_GE(facts.cpu.cores, 1);
    EXPECT_LE(facts.cpu.cores, facts.cpu.threads);
    double physical = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                      static_cast<double>(::sysconf(_SC_PAGESIZE));
    EXPECT_NEAR(static_cast<double>(facts.memory.total), physical, physical * 0.01);
    EXPECT_LE(facts.memory.available, facts.memory.total);
    EXPECT_TRUE(facts.problems.empty());
}

TEST(GatherFactsOnThisHost, FindsOurOwnListeningSocket) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(fd, 4), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    const int port = ntohs(address.sin_port);
    std::string comm;
    std::getline(std::ifstream("/proc/self/comm"), comm);

    HostFacts facts = gather_facts(options("/", {"network"}));
    auto ours =
        std::find_if(facts.network.listening.begin(), facts.network.listening.end(),
                     [&](const Socket& s) { return s.protocol == "tcp" && s.port == port; });
    ASSERT_NE(ours, facts.network.listening.end()) << port;
    EXPECT_EQ(ours->address, "127.0.0.1");
    EXPECT_EQ(ours->pid, ::getpid());
    EXPECT_EQ(ours->process, comm);
    EXPECT_FALSE(facts.network.interfaces.empty());
    auto lo = std::find_if(facts.network.interfaces.begin(), facts.network.interfaces.end(),
                           [](const Interface& i) { return i.name == "lo"; });
    ASSERT_NE(lo, facts.network.interfaces.end());
    EXPECT_NE(std::find(lo->addresses.begin(), lo->addresses.end(), "127.0.0.1/8"),
              lo->addresses.end());

    // The /proc parser agrees with the kernel's real format (the host path uses sock_diag).
    std::string tcp = run("cat /proc/net/tcp");
    std::vector<uint64_t> inodes;
    auto sockets = parse_proc_net(tcp, "tcp", inodes);
    EXPECT_TRUE(std::any_of(sockets.begin(), sockets.end(), [&](const Socket& s) {
        return s.address == "127.0.0.1" && s.port == port;
    }));
    ::close(fd);
}

TEST(GatherFactsOnThisHost, ReportsLimitsAndEnvironmentNames) {
    ::setenv("SHIPSHAPE_FACTS_TEST_SECRET", "do-not-report", 1);
    HostFacts facts = gather_facts(
        options("/", {"limits", "env"},
                {"SHIPSHAPE_FACTS_TEST_SECRET", "PATH", "SHIPSHAPE_FACTS_TEST_UNSET"}));
    EXPECT_EQ(facts.env_names, (std::vector<std::string>{"PATH", "SHIPSHAPE_FACTS_TEST_SECRET"}));
    rlimit nofile{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
    EXPECT_EQ(facts.limits.rlimits.at("nofile"),
              nofile.rlim_cur == RLIM_INFINITY ? UINT64_MAX : nofile.rlim_cur);
    EXPECT_EQ(facts.limits.rlimits.size(), 8u);
    EXPECT_EQ(facts.limits.sysctl.size(), 6u);
    EXPECT_NE(facts.limits.cgroup_version, 0);

    HostFacts all = gather_facts(options("/", {"env"}));
    EXPECT_NE(std::find(all.env_names.begin(), all.env_names.end(), "SHIPSHAPE_FACTS_TEST_SECRET"),
              all.env_names.end());
    EXPECT_TRUE(std::is_sorted(all.env_names.begin(), all.env_names.end()));
    for (const std::string& name : all.env_names) {
        EXPECT_EQ(name.find('='), std::string::npos) << name;  // names, never values
    }
    ::unsetenv("SHIPSHAPE_FACTS_TEST_SECRET");
}

}  // namespace
}  // namespace shipshape::facts
