#include "faults/engine.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/assert.hpp"
#include "core/size.hpp"
#include "os/errno_error.hpp"
#include "os/process.hpp"

namespace shipshape::faults {

namespace {

constexpr uint16_t k_queue_num = 7;

std::string proto_match(Proto p) {
    switch (p) {
        case Proto::tcp:
            return "meta l4proto tcp ";
        case Proto::udp:
            return "meta l4proto udp ";
        case Proto::any:
            break;
    }
    return "";
}

// Finds `name` in PATH (the sandbox's commands use the same lookup).
std::optional<std::string> find_tool(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    dirs += ":/usr/sbin:/sbin";
    size_t i = 0;
    while (i <= dirs.size()) {
        size_t j = dirs.find(':', i);
        std::string dir = dirs.substr(i, j == std::string::npos ? std::string::npos : j - i);
        std::string candidate = dir + "/" + name;
        if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        if (j == std::string::npos) {
            break;
        }
        i = j + 1;
    }
    return std::nullopt;
}

std::string tool_package(const std::string& tool) {
    if (tool == "tc" || tool == "ip") {
        return "iproute2";
    }
    if (tool == "iptables" || tool == "ip6tables") {
        return "iptables";
    }
    return "coreutils";
}

uint64_t number_after(const std::string& text, const std::string& word) {
    auto at = text.find(word);
    if (at == std::string::npos) {
        return 0;
    }
    return std::strtoull(text.c_str() + at + word.size(), nullptr, 10);
}

// The new mount API makes a private tmpfs that is attached nowhere, so a replacement
// resolv.conf can be bind-mounted without creating any file outside the sandbox.
Status mount_file_over(const std::string& target, const std::string& content) {
    int fs = ::fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) {
        return fail(os::errno_error("--dns-fail: fsopen(tmpfs)", errno));
    }
    ::fsconfig(fs, FSCONFIG_SET_STRING, "size", "64k", 0);
    if (::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
        int err = errno;
        ::close(fs);
        return fail(os::errno_error("--dns-fail: creating a tmpfs", err));
    }
    int mnt = ::fsmount(fs, FSMOUNT_CLOEXEC, 0);
    ::close(fs);
    if (mnt < 0) {
        return fail(os::errno_error("--dns-fail: fsmount", errno));
    }
    int f = ::openat(mnt, "file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    bool written = f >= 0 && ::write(f, content.data(), content.size()) ==
                                 static_cast<ssize_t>(content.size());
    if (f >= 0) {
        ::close(f);
    }
    int tree = written ? ::open_tree(mnt, "file", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) : -1;
    ::close(mnt);
    if (tree < 0) {
        return fail(os::errno_error("--dns-fail: preparing " + target, errno));
    }
    int rc = ::move_mount(tree, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH);
    int err = errno;
    ::close(tree);
    if (rc != 0) {
        return fail(os::errno_error("--dns-fail: mounting over " + target, err));
    }
    return {};
}

}  // namespace

Result<std::string> run_tool(const std::vector<std::string>& argv) {
    auto path = find_tool(argv.at(0));
    if (!path) {
        return fail(Errc::unsupported, "'" + argv[0] + "' is not installed (Debian package " +
                                           tool_package(argv[0]) + ")");
    }
    os::ProcessSpec spec;
    spec.argv = argv;
    spec.argv.front() = *path;
    os::CollectSink sink;  // stdout and stderr merged, as the messages below quote them
    auto outcome = os::make_process_runner()->run(spec, sink, nullptr);
    if (!outcome) {
        return fail(outcome.error());
    }
    std::string& output = sink.out;
    if (!outcome->success()) {
        std::string cmd;
        for (const auto& a : argv) {
            cmd += (cmd.empty() ? "" : " ") + a;
        }
        while (!output.empty() && output.back() == '\n') {
            output.pop_back();
        }
        return fail(Errc::io, "'" + cmd + "' failed: " + output);
    }
    return output;
}

void Engine::begin_setup() {
    m_batching = true;
}

Status Engine::finish_setup() {
    m_batching = false;
    return m_nft ? m_nft->commit_batch() : Status{};
}

Engine::~Engine() {
    teardown(0);
}

Status Engine::setup_network(int id, const Fault& f) {
    if (!m_nft) {
        auto nft = Nft::create();
        if (!nft) {
            return fail(nft.error());
        }
        m_nft = std::move(*nft);
        if (m_batching) {
            m_nft->begin_batch();
        }
    }
    std::string counter = "counter name " + Nft::counter_name(id) + " ";
    std::vector<std::string> rules;
    std::string hook = "input";
    switch (f.kind) {
        case FaultKind::loss:
            rules.push_back(proto_match(f.proto) +
                            (f.percent >= 100
                                 ? std::string()
                                 : "numgen random mod 100 < " + std::to_string(f.percent) + " ") +
                            counter + "drop");
            break;
        case FaultKind::block_port: {
            std::string port = std::to_string(f.port);
            if (f.proto != Proto::udp) {
                rules.push_back("tcp dport " + port + " " + counter +
                                (f.mode == BlockMode::drop ? "drop" : "reject with tcp reset"));
            }
            if (f.proto != Proto::tcp) {
                rules.push_back("udp dport " + port + " " + counter +
                                (f.mode == BlockMode::drop ? "drop" : "reject"));
            }
            break;
        }
        case FaultKind::dns_fail:
            rules.push_back("udp dport 53 " + counter + "reject");
            rules.push_back("tcp dport 53 " + counter + "reject with tcp reset");
            break;
        case FaultKind::reset_after: {
            // Conntrack accounting gives each connection a byte count; the first packet past
            // the limit, in either direction, is turned into a reset that its receiver accepts
            // (it carries the expected sequence number), so the receiving end sees ECONNRESET
            // and the other end's next packet is answered with a reset by the kernel.
            int fd = ::open("/proc/sys/net/netfilter/nf_conntrack_acct", O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ::write(fd, "1", 1) != 1) {
                int err = errno;
                if (fd >= 0) {
                    ::close(fd);
                }
                return fail(Errc::unsupported,
                            os::errno_error("--reset-after needs conntrack accounting "
                                            "(net.netfilter.nf_conntrack_acct)",
                                            err)
                                .message());
            }
            ::close(fd);
            std::string port = std::to_string(f.port);
            std::string limit = std::to_string(f.bytes);
            rules.push_back("tcp sport " + port + " ct bytes > " + limit + " " + counter +
                            "tcp flags set rst");
            rules.push_back("tcp dport " + port + " ct bytes > " + limit + " " + counter +
                            "tcp flags set rst");
            break;
        }
        default:
            SHIPSHAPE_ASSERT(false);
    }
    return m_nft->declare(id, hook, std::move(rules));
}

Status Engine::setup_latency() {
    if (m_delay) {
        return {};
    }
    for (const char* tool : {"iptables", "ip6tables"}) {
        if (!find_tool(tool)) {
            return fail(Errc::unsupported,
                        std::string("--latency needs '") + tool +
                            "' for its NFQUEUE target (Debian package iptables)");
        }
    }
    auto q = DelayQueue::start(k_queue_num);
    if (!q) {
        return fail(q.error());
    }
    m_delay = std::move(*q);
    // nft has no queue expression on every kernel; iptables' NFQUEUE target (through nft's
    // xtables compatibility) works where the expression does not.
    for (const char* tool : {"iptables", "ip6tables"}) {
        auto r = run_tool({tool, "-w", "-t", "mangle", "-A", "OUTPUT", "-j", "NFQUEUE",
                           "--queue-num", std::to_string(k_queue_num)});
        if (!r) {
            return fail(Errc::unsupported, "--latency: cannot queue packets to user space (" +
                                               r.error().message() + ")");
        }
    }
    m_latency_rules = true;
    return {};
}

Status Engine::setup_tmpfs(const Fault& f) {
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return fail(Errc::invalid_argument,
                    f.origin + ": " + f.path + " must be an existing directory");
    }
    int original = ::open(f.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (original < 0) {
        return fail(os::errno_error(f.origin + ": opening " + f.path, errno));
    }
    if (::mount("shipshape-fault", f.path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") !=
        0) {
        int err = errno;
        ::close(original);
        return fail(Errc::unsupported,
                    os::errno_error(f.origin + ": mounting a tmpfs on " + f.path, err).message());
    }
    // The directory's content is copied in, so the program finds what it expects; what it
    // writes stays in the sandbox.
    int inherit = ::fcntl(original, F_DUPFD, 100);
    ::close(original);
    // In a user namespace the original owners are unmapped and cannot be kept.
    std::vector<std::string> cp = {"cp", "-a"};
    if (::access("/proc/self/uid_map", R_OK) == 0 && ::geteuid() == 0 &&
        std::getenv("SHIPSHAPE_FAULT_USERNS")) {
        cp.emplace_back("--no-preserve=ownership");
    }
    cp.push_back("/proc/self/fd/" + std::to_string(inherit) + "/.");
    cp.push_back(f.path + "/");
    auto copied = run_tool(cp);
    ::close(inherit);
    if (!copied) {
        return fail(Errc::io, f.origin + ": copying " + f.path +
                                  " into its tmpfs: " + copied.error().message());
    }
    Tmpfs t;
    t.path = f.path;
    t.size = f.bytes;
    // Kept so the tmpfs can be measured and resized even after a FUSE layer covers the path.
    t.fd = ::open(f.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    m_tmpfs.emplace(f.path, t);
    return {};
}

Status Engine::tmpfs_limit(Tmpfs& t, bool on) {
    std::string size = "size=50%";
    if (on) {
        struct statvfs vfs {};
        ::fstatvfs(t.fd, &vfs);
        uint64_t used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
        uint64_t limit = std::max(t.size, used);
        limit = (limit + 4095) / 4096 * 4096;
        size = "size=" + std::to_string(limit);
    }
    std::string target = "/proc/self/fd/" + std::to_string(t.fd);
    if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV,
                size.c_str()) != 0) {
        return fail(os::errno_error("resizing the tmpfs on " + t.path, errno));
    }
    t.limited = on;
    return {};
}

Result<FaultFs*> Engine::fault_fs(const std::string& path) {
    auto it = m_fs.find(path);
    if (it != m_fs.end()) {
        return it->second.get();
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return fail(Errc::invalid_argument, path + " must be an existing directory");
    }
    auto fs = FaultFs::mount(path);
    if (!fs) {
        return fail(fs.error());
    }
    auto* raw = fs->get();
    m_fs.emplace(path, std::move(*fs));
    return raw;
}

Status Engine::setup_dns() {
    if (m_dns_mounted) {
        return {};
    }
    auto st = mount_file_over("/etc/resolv.conf",
                              "# shipshape fault --dns-fail: every query is refused\n"
                              "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n");
    if (!st) {
        return fail(Errc::unsupported, st.error().message());
    }
    m_dns_mounted = true;
    return {};
}

Status Engine::setup_clock_skew() {
    if (m_preload.empty() || ::access(m_preload.c_str(), R_OK) != 0) {
        return fail(Errc::unsupported,
                    "--clock-skew needs its preload library, not found at '" + m_preload +
                        "' (it is built and installed next to the shipshape binary)");
    }
    // A shared counter the preloaded library increments on every skewed clock read, so the
    // report can say whether the program ever looked at the clock.
    m_skew_fd = ::memfd_create("shipshape-clock-skew", 0);
    if (m_skew_fd < 0 || ::ftruncate(m_skew_fd, 4096) != 0) {
        return fail(os::errno_error("--clock-skew: memfd", errno));
    }
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m_skew_fd, 0);
    if (p == MAP_FAILED) {
        return fail(os::errno_error("--clock-skew: mmap", errno));
    }
    m_skew_count = static_cast<const volatile uint64_t*>(p);
    return {};
}

Status Engine::add(int id, const Fault& f, int64_t now_ms) {
    Entry e;
    e.fault = f;
    Status st;
    switch (f.kind) {
        case FaultKind::loss:
        case FaultKind::block_port:
        case FaultKind::reset_after:
            e.mechanism = "nftables";
            st = setup_network(id, f);
            break;
        case FaultKind::dns_fail:
            e.mechanism = "nftables + private resolv.conf";
            st = setup_dns();
            if (st) {
                st = setup_network(id, f);
            }
            break;
        case FaultKind::latency:
            e.mechanism = "NFQUEUE (user-space hold; the kernel has no netem here)";
            st = setup_latency();
            break;
        case FaultKind::bandwidth:
            e.mechanism = "tbf qdisc on the sandbox loopback";
            if (!find_tool("tc")) {
                st = fail(Errc::unsupported, "--bandwidth needs 'tc' (Debian package iproute2)");
            }
            break;
        case FaultKind::disk_full:
            e.mechanism = "tmpfs size limit";
            st = setup_tmpfs(f);
            break;
        case FaultKind::io_error:
        case FaultKind::slow_io:
        case FaultKind::lose_unsynced: {
            e.mechanism = "FUSE";
            auto fs = fault_fs(f.path);
            if (!fs) {
                st = fail(fs.error().context(f.origin));
            } else if (f.kind == FaultKind::lose_unsynced) {
                (*fs)->set_track_unsynced(true);
            }
            break;
        }
        case FaultKind::memory: {
            if (!m_cgroup) {
                auto cg = MemoryCgroup::create(::getpid());
                if (!cg) {
                    st = fail(cg.error());
                    break;
                }
                m_cgroup = std::move(*cg);
            }
            e.mechanism = "memory cgroup v" + std::to_string(m_cgroup->version());
            break;
        }
        case FaultKind::alloc_limit:
            e.mechanism = "RLIMIT_AS";
            m_alloc_limit = f.bytes;
            break;
        case FaultKind::clock_skew:
            e.mechanism = "LD_PRELOAD clock library";
            st = setup_clock_skew();
            break;
    }
    if (!st) {
        return st;
    }
    auto [it, inserted] = m_entries.emplace(id, std::move(e));
    SHIPSHAPE_ASSERT(inserted);
    m_faults.emplace(id, f);
    if (!f.start) {
        return set_on(id, true, now_ms);
    }
    return {};
}

Status Engine::switch_mechanism(Entry& e, int id, bool on) {
    const Fault& f = e.fault;
    switch (f.kind) {
        case FaultKind::loss:
        case FaultKind::block_port:
        case FaultKind::reset_after:
        case FaultKind::dns_fail:
            return on ? m_nft->enable(id) : m_nft->disable(id);
        case FaultKind::latency:
            m_delay->set_delay(on ? f.delay : Millis(0), on ? f.jitter : Millis(0));
            return {};
        case FaultKind::bandwidth: {
            if (!on) {
                auto r = run_tool({"tc", "qdisc", "del", "dev", "lo", "root"});
                return r ? Status{} : fail(r.error());
            }
            // The bucket must hold a whole packet: lower the loopback MTU so a modest burst
            // does, and size the burst for about 20 ms of traffic.
            uint64_t burst = std::max<uint64_t>(f.bytes / 50, 4096);
            if (auto r = run_tool({"ip", "link", "set", "lo", "mtu", "1500"}); !r) {
                return fail(r.error());
            }
            auto r = run_tool({"tc", "qdisc", "replace", "dev", "lo", "root", "tbf", "rate",
                               std::to_string(f.bytes * 8) + "bit", "burst", std::to_string(burst),
                               "latency", "500ms"});
            if (!r) {
                return fail(Errc::unsupported,
                            "--bandwidth: the tbf qdisc is unavailable: " + r.error().message());
            }
            return {};
        }
        case FaultKind::disk_full:
            return tmpfs_limit(m_tmpfs.at(f.path), on);
        case FaultKind::io_error:
            m_fs.at(f.path)->set_io_error(on ? f.percent : 0, f.ops);
            return {};
        case FaultKind::slow_io:
            m_fs.at(f.path)->set_delay(on ? f.delay : Millis(0));
            return {};
        case FaultKind::memory:
            return m_cgroup->set_limit(on ? f.bytes : 0);
        case FaultKind::lose_unsynced:
        case FaultKind::alloc_limit:
        case FaultKind::clock_skew:
            return {};  // whole-run faults: in effect from the start
    }
    return {};
}

Status Engine::set_on(int id, bool on, int64_t now_ms) {
    auto it = m_entries.find(id);
    if (it == m_entries.end()) {
        return fail(Errc::not_found, "no fault " + std::to_string(id) + " in this sandbox");
    }
    Entry& e = it->second;
    if (e.on == on) {
        return {};
    }
    if (auto st = switch_mechanism(e, id, on); !st) {
        return st;
    }
    e.on = on;
    if (on) {
        e.windows.emplace_back(now_ms, -1);
    } else if (!e.windows.empty()) {
        e.windows.back().second = now_ms;
    }
    return {};
}

ChildSetup Engine::child_setup() const {
    ChildSetup c;
    if (m_cgroup) {
        c.cgroup_procs = m_cgroup->procs_file();
    }
    c.address_space_limit = m_alloc_limit;
    for (const auto& [id, e] : m_entries) {
        if (e.fault.kind == FaultKind::clock_skew) {
            c.extra_env.push_back("LD_PRELOAD=" + m_preload);
            c.extra_env.push_back("SHIPSHAPE_CLOCK_SKEW=" + std::to_string(e.fault.skew_seconds));
            c.extra_env.push_back("SHIPSHAPE_CLOCK_SKEW_FD=" + std::to_string(m_skew_fd));
        }
    }
    return c;
}

void Engine::sample() {
    for (auto& [path, t] : m_tmpfs) {
        struct statvfs vfs {};
        if (::fstatvfs(t.fd, &vfs) != 0) {
            continue;
        }
        uint64_t used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
        t.peak_used = std::max(t.peak_used, used);
        if (t.limited && vfs.f_bavail * vfs.f_frsize < uint64_t{2} * 4096) {
            ++t.full_samples;
        }
    }
}

MemoryStats Engine::memory_stats() const {
    if (m_memory_final) {
        return *m_memory_final;
    }
    return m_cgroup ? m_cgroup->stats() : MemoryStats{};
}

void Engine::add_counts(int id, const Entry& e, FaultOutcome& out) {
    const Fault& f = e.fault;
    auto fs_counters = [&](const std::string& path) {
        auto final_it = m_fs_final.find(path);
        if (final_it != m_fs_final.end()) {
            return final_it->second;
        }
        auto it = m_fs.find(path);
        return it == m_fs.end() ? FaultFsCounters{} : it->second->counters();
    };
    switch (f.kind) {
        case FaultKind::loss:
        case FaultKind::block_port:
        case FaultKind::reset_after:
        case FaultKind::dns_fail: {
            NftCounter c;
            if (auto it = m_nft_counts.find(id); it != m_nft_counts.end()) {
                c = it->second;
            }
            std::string what = f.kind == FaultKind::loss          ? "packets_dropped"
                               : f.kind == FaultKind::reset_after ? "packets_reset"
                               : f.mode == BlockMode::drop && f.kind == FaultKind::block_port
                                   ? "packets_dropped"
                                   : "packets_rejected";
            out.counts.emplace_back(what, c.packets);
            out.counts.emplace_back("bytes", c.bytes);
            out.fired = c.packets > 0;
            break;
        }
        case FaultKind::latency: {
            DelayCounters c = m_delay ? m_delay->counters() : m_delay_final;
            out.counts.emplace_back("packets_delayed", c.packets);
            out.counts.emplace_back("packets_passed", c.passed);
            out.counts.emplace_back("mean_delay_us", c.packets ? c.total_delay_us / c.packets : 0);
            out.fired = c.packets > 0;
            break;
        }
        case FaultKind::bandwidth: {
            std::string text;
            if (m_bandwidth_final) {
                text = *m_bandwidth_final;
            } else if (auto r = run_tool({"tc", "-s", "qdisc", "show", "dev", "lo"}); r) {
                text = *r;
            }
            uint64_t overlimits = number_after(text, "overlimits ");
            uint64_t dropped = number_after(text, "dropped ");
            out.counts.emplace_back("bytes_sent", number_after(text, "Sent "));
            out.counts.emplace_back("overlimits", overlimits);
            out.counts.emplace_back("packets_dropped", dropped);
            out.fired = overlimits > 0 || dropped > 0;
            if (!text.empty()) {
                m_bandwidth_final = text;
            }
            break;
        }
        case FaultKind::disk_full: {
            auto it = m_tmpfs.find(f.path);
            if (it != m_tmpfs.end()) {
                out.counts.emplace_back("size_bytes", it->second.size);
                out.counts.emplace_back("peak_used_bytes", it->second.peak_used);
                out.counts.emplace_back("full_samples", it->second.full_samples);
                out.fired = it->second.full_samples > 0;
            }
            if (m_fs.count(f.path) || m_fs_final.count(f.path)) {
                auto c = fs_counters(f.path);
                out.counts.emplace_back("enospc_errors", c.enospc);
                out.fired = out.fired || c.enospc > 0;
            } else {
                out.note = "full = free space under 8 KiB in a sample taken every 10 ms";
            }
            break;
        }
        case FaultKind::io_error: {
            auto c = fs_counters(f.path);
            out.counts.emplace_back("reads", c.reads);
            out.counts.emplace_back("writes", c.writes);
            out.counts.emplace_back("fsyncs", c.fsyncs);
            out.counts.emplace_back("eio_reads", c.eio_reads);
            out.counts.emplace_back("eio_writes", c.eio_writes);
            out.counts.emplace_back("eio_fsyncs", c.eio_fsyncs);
            out.fired = c.eio_reads + c.eio_writes + c.eio_fsyncs > 0;
            break;
        }
        case FaultKind::slow_io: {
            auto c = fs_counters(f.path);
            out.counts.emplace_back("operations_delayed", c.delayed);
            out.fired = c.delayed > 0;
            break;
        }
        case FaultKind::lose_unsynced: {
            auto c = fs_counters(f.path);
            out.counts.emplace_back("files_lost", c.lost_files);
            out.counts.emplace_back("bytes_lost", c.lost_bytes);
            out.counts.emplace_back("fsyncs", c.fsyncs);
            out.fired = c.lost_files > 0;
            break;
        }
        case FaultKind::memory: {
            MemoryStats s = memory_stats();
            out.counts.emplace_back("peak_bytes", s.peak);
            out.counts.emplace_back("oom_kills", s.oom_kills);
            out.fired = s.oom_kills > 0;
            break;
        }
        case FaultKind::alloc_limit:
            out.observable = false;
            out.note =
                "the kernel does not count refused allocations; check the program's own "
                "handling (exit status, output)";
            break;
        case FaultKind::clock_skew: {
            uint64_t reads = m_skew_count ? *m_skew_count : 0;
            out.counts.emplace_back("clock_reads_skewed", reads);
            out.fired = reads > 0;
            out.note =
                "dynamically linked programs only (LD_PRELOAD); static binaries and raw "
                "syscalls see the real clock";
            break;
        }
    }
}

std::vector<FaultOutcome> Engine::outcomes() {
    std::vector<FaultOutcome> out;
    if (m_nft) {
        m_nft_counts = m_nft->counters().value_or(std::map<int, NftCounter>{});
    }
    for (const auto& [id, e] : m_entries) {
        FaultOutcome o;
        o.id = id;
        o.fault = e.fault;
        o.mechanism = e.mechanism;
        o.active_ms = e.windows;
        add_counts(id, e, o);
        out.push_back(std::move(o));
    }
    return out;
}

Status Engine::power_loss() {
    for (const auto& [id, e] : m_entries) {
        if (e.fault.kind == FaultKind::lose_unsynced) {
            if (auto st = m_fs.at(e.fault.path)->power_loss(); !st) {
                return st;
            }
        }
    }
    return {};
}

void Engine::teardown(int64_t now_ms) {
    sample();
    for (auto& [id, e] : m_entries) {
        if (e.on && !e.windows.empty() && e.windows.back().second < 0 && now_ms > 0) {
            e.windows.back().second = now_ms;
        }
    }
    for (auto& [path, fs] : m_fs) {
        m_fs_final[path] = fs->counters();
        (void)fs->unmount();
    }
    m_fs.clear();
    if (m_cgroup) {
        m_memory_final = m_cgroup->stats();
        m_cgroup.reset();
    }
    if (m_delay) {
        m_delay_final = m_delay->counters();
        m_delay.reset();
    }
    for (auto& [path, t] : m_tmpfs) {
        if (t.fd >= 0) {
            ::close(t.fd);
            t.fd = -1;
        }
    }
}

}  // namespace shipshape::faults
