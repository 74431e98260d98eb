// The network kinds' mechanisms: nftables rules with named counters (loss, block-port,
// reset-after, dns-fail, the last with a private resolv.conf), an NFQUEUE delay queue
// (latency) and a tbf qdisc on the sandbox loopback (bandwidth).
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/assert.hpp"
#include "faults/engine.hpp"
#include "faults/mechanisms.hpp"
#include "os/errno_error.hpp"

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

// --- nftables: loss, block-port, reset-after, dns-fail ------------------------------------

// The rules of one fault, each counting into the fault's named counter.
Result<std::vector<std::string>> nft_rules(int id, const Fault& f) {
    std::string counter = "counter name " + Nft::counter_name(id) + " ";
    std::vector<std::string> rules;
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
            SHIPSHAPE_ASSERT(false && "not an nftables kind");
    }
    return rules;
}

Result<std::string> setup_nft(MechanismState& s, int id, const Fault& f) {
    if (!s.nft) {
        auto nft = Nft::create();
        if (!nft) {
            return fail(nft.error());
        }
        s.nft = std::move(*nft);
        if (s.batching) {
            s.nft->begin_batch();
        }
    }
    auto rules = nft_rules(id, f);
    if (!rules) {
        return fail(rules.error());
    }
    if (auto st = s.nft->declare(id, "input", std::move(*rules)); !st) {
        return fail(st.error());
    }
    return std::string("nftables");
}

Result<std::string> setup_dns(MechanismState& s, int id, const Fault& f) {
    if (!s.dns_mounted) {
        auto st = mount_file_over("/etc/resolv.conf",
                                  "# shipshape fault --dns-fail: every query is refused\n"
                                  "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n");
        if (!st) {
            return fail(Errc::unsupported, st.error().message());
        }
        s.dns_mounted = true;
    }
    if (auto r = setup_nft(s, id, f); !r) {
        return r;
    }
    return std::string("nftables + private resolv.conf");
}

Status set_nft(MechanismState& s, int id, const Fault&, bool on) {
    return on ? s.nft->enable(id) : s.nft->disable(id);
}

void report_nft(MechanismState& s, int id, const Fault& f, FaultOutcome& out) {
    NftCounter c;
    if (auto it = s.nft_counts.find(id); it != s.nft_counts.end()) {
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
}

// --- latency: NFQUEUE ---------------------------------------------------------------------

Result<std::string> setup_latency(MechanismState& s, int, const Fault&) {
    std::string name = "NFQUEUE (user-space hold; the kernel has no netem here)";
    if (s.delay) {
        return name;
    }
    for (const char* tool : {"iptables", "ip6tables"}) {
        if (!tool_installed(tool)) {
            return fail(Errc::unsupported,
                        std::string("--latency needs '") + tool +
                            "' for its NFQUEUE target (Debian package iptables)");
        }
    }
    auto q = DelayQueue::start(k_queue_num);
    if (!q) {
        return fail(q.error());
    }
    s.delay = std::move(*q);
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
    return name;
}

Status set_latency(MechanismState& s, int, const Fault& f, bool on) {
    s.delay->set_delay(on ? f.delay : Millis(0), on ? f.jitter : Millis(0));
    return {};
}

void report_latency(MechanismState& s, int, const Fault&, FaultOutcome& out) {
    DelayCounters c = s.delay ? s.delay->counters() : s.delay_final;
    out.counts.emplace_back("packets_delayed", c.packets);
    out.counts.emplace_back("packets_passed", c.passed);
    out.counts.emplace_back("mean_delay_us", c.packets ? c.total_delay_us / c.packets : 0);
    out.fired = c.packets > 0;
}

// --- bandwidth: tbf -----------------------------------------------------------------------

Result<std::string> setup_bandwidth(MechanismState&, int, const Fault&) {
    if (!tool_installed("tc")) {
        return fail(Errc::unsupported, "--bandwidth needs 'tc' (Debian package iproute2)");
    }
    return std::string("tbf qdisc on the sandbox loopback");
}

Status set_bandwidth(MechanismState&, int, const Fault& f, bool on) {
    if (!on) {
        auto r = run_tool({"tc", "qdisc", "del", "dev", "lo", "root"});
        return r ? Status{} : fail(r.error());
    }
    // The bucket must hold a whole packet: lower the loopback MTU so a modest burst does, and
    // size the burst for about 20 ms of traffic.
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

void report_bandwidth(MechanismState& s, int, const Fault&, FaultOutcome& out) {
    std::string text;
    if (s.bandwidth_final) {
        text = *s.bandwidth_final;
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
        s.bandwidth_final = text;
    }
}

}  // namespace

const Mechanism k_loss_mechanism{FaultKind::loss, setup_nft, set_nft, report_nft, nullptr};
const Mechanism k_block_port_mechanism{FaultKind::block_port, setup_nft, set_nft, report_nft,
                                       nullptr};
const Mechanism k_reset_after_mechanism{FaultKind::reset_after, setup_nft, set_nft, report_nft,
                                        nullptr};
const Mechanism k_dns_fail_mechanism{FaultKind::dns_fail, setup_dns, set_nft, report_nft, nullptr};
const Mechanism k_latency_mechanism{FaultKind::latency, setup_latency, set_latency, report_latency,
                                    nullptr};
const Mechanism k_bandwidth_mechanism{FaultKind::bandwidth, setup_bandwidth, set_bandwidth,
                                      report_bandwidth, nullptr};

}  // namespace shipshape::faults
