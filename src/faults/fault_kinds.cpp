// The rows of the fault-kind table, each kind's parser, formatter and description together.
// Behaviour of each is the flag grammar in docs/manual.md.
#include "faults/fault_kinds.hpp"

#include <charconv>
#include <cstdlib>
#include <optional>
#include <utility>

#include "core/assert.hpp"
#include "core/size.hpp"
#include "core/text.hpp"

namespace shipshape::faults {

namespace {

template <typename Int>
std::optional<Int> parse_int(std::string_view s) {
    s = trim(s);
    Int value{};
    if (s.empty()) {
        return std::nullopt;
    }
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return value;
}

// Milliseconds as a plain number ("50") or a duration ("50ms", "1s").
std::optional<Millis> parse_ms(std::string_view s) {
    s = trim(s);
    if (auto n = parse_int<int64_t>(s)) {
        return Millis(*n);
    }
    auto d = parse_duration(s);
    return d ? std::optional<Millis>(*d) : std::nullopt;
}

std::optional<Proto> parse_proto(std::string_view s) {
    if (s == "tcp") {
        return Proto::tcp;
    }
    if (s == "udp") {
        return Proto::udp;
    }
    if (s == "any" || s == "all") {
        return Proto::any;
    }
    return std::nullopt;
}

std::string proto_suffix(Proto p, std::string_view before) {
    switch (p) {
        case Proto::tcp:
            return std::string(before) + "tcp";
        case Proto::udp:
            return std::string(before) + "udp";
        case Proto::any:
            break;
    }
    return "";
}

std::optional<unsigned> parse_percent(std::string_view s) {
    s = trim(s);
    if (!s.empty() && s.back() == '%') {
        s.remove_suffix(1);
    }
    auto v = parse_int<unsigned>(s);
    if (!v || *v > 100) {
        return std::nullopt;
    }
    return v;
}

// "PATH:REST" where PATH is absolute; the split is at the first ':' after the path's last '/'.
std::optional<std::pair<std::string_view, std::string_view>> split_path(std::string_view s) {
    if (s.empty() || s.front() != '/') {
        return std::nullopt;
    }
    auto slash = s.rfind('/');
    auto colon = s.find(':', slash);
    if (colon == std::string_view::npos) {
        return std::make_pair(s, std::string_view());
    }
    return std::make_pair(s.substr(0, colon), s.substr(colon + 1));
}

bool valid_path(std::string_view p) {
    if (p.empty() || p.front() != '/' || p == "/") {
        return false;
    }
    if (p.size() > 1 && p.back() == '/') {
        return false;
    }
    size_t i = 0;
    while (i < p.size()) {
        size_t j = p.find('/', i + 1);
        std::string_view part =
            p.substr(i + 1, (j == std::string_view::npos ? p.size() : j) - i - 1);
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
        if (j == std::string_view::npos) {
            break;
        }
        i = j;
    }
    return true;
}

// The path part shared by the file-system kinds; sets f.path and returns what follows it.
Result<std::string_view> take_path(Fault& f, std::string_view body, std::string_view text) {
    auto parts = split_path(body);
    if (!parts || !valid_path(parts->first)) {
        return bad_flag(f.kind, text,
                        "an absolute, normalized directory path first (no '.', '..' or "
                        "trailing '/'), other than /");
    }
    f.path = std::string(parts->first);
    return parts->second;
}

// --- loss ---------------------------------------------------------------------------------

Result<Fault> parse_loss(Fault f, std::string_view body, std::string_view text) {
    auto slash = body.find('/');
    auto pct = parse_percent(body.substr(0, slash));
    if (!pct || *pct == 0) {
        return bad_flag(f.kind, text, "PCT[/tcp|udp] with PCT from 1 to 100, e.g. 20 or 20/udp");
    }
    f.percent = *pct;
    if (slash != std::string_view::npos) {
        auto p = parse_proto(body.substr(slash + 1));
        if (!p) {
            return bad_flag(f.kind, text, "the protocol after '/' to be tcp or udp");
        }
        f.proto = *p;
    }
    return f;
}

std::string format_loss(const Fault& f) {
    return std::to_string(f.percent) + proto_suffix(f.proto, "/");
}

std::string describe_loss(const Fault& f) {
    return "loss of " + std::to_string(f.percent) + "% of incoming" + proto_suffix(f.proto, " ") +
           " packets";
}

// --- block-port ---------------------------------------------------------------------------

Result<Fault> parse_block_port(Fault f, std::string_view body, std::string_view text) {
    std::string_view rest = body;
    auto colon = rest.find(':');
    if (colon != std::string_view::npos) {
        std::string_view mode = rest.substr(colon + 1);
        if (mode == "reject") {
            f.mode = BlockMode::reject;
        } else if (mode == "drop") {
            f.mode = BlockMode::drop;
        } else {
            return bad_flag(f.kind, text, "the mode after ':' to be reject or drop");
        }
        rest = rest.substr(0, colon);
    }
    auto slash = rest.find('/');
    auto port = parse_int<uint16_t>(rest.substr(0, slash));
    if (!port || *port == 0) {
        return bad_flag(f.kind, text, "PORT[/tcp|udp][:reject|drop] with PORT from 1 to 65535");
    }
    f.port = *port;
    if (slash != std::string_view::npos) {
        auto p = parse_proto(rest.substr(slash + 1));
        if (!p) {
            return bad_flag(f.kind, text, "the protocol after '/' to be tcp or udp");
        }
        f.proto = *p;
    }
    return f;
}

std::string format_block_port(const Fault& f) {
    return std::to_string(f.port) + proto_suffix(f.proto, "/") +
           (f.mode == BlockMode::drop ? ":drop" : ":reject");
}

std::string describe_block_port(const Fault& f) {
    return "port " + std::to_string(f.port) + proto_suffix(f.proto, " ") + " blocked (" +
           (f.mode == BlockMode::drop ? "dropped silently" : "refused") + ")";
}

// --- latency ------------------------------------------------------------------------------

Result<Fault> parse_latency(Fault f, std::string_view body, std::string_view text) {
    std::string_view main = body;
    std::string_view jitter;
    for (std::string_view sep : {"±", "+-", "~"}) {
        auto at = body.find(sep);
        if (at != std::string_view::npos) {
            main = body.substr(0, at);
            jitter = body.substr(at + sep.size());
            break;
        }
    }
    auto d = parse_ms(main);
    if (!d || d->count() <= 0 || d->count() > 60000) {
        return bad_flag(f.kind, text,
                        "MS[±JITTER] in milliseconds from 1 to 60000, e.g. 50 or 50±10");
    }
    f.delay = *d;
    if (!jitter.empty()) {
        auto j = parse_ms(jitter);
        if (!j || j->count() < 0 || *j > *d) {
            return bad_flag(f.kind, text, "a jitter from 0 up to the latency itself");
        }
        f.jitter = *j;
    }
    return f;
}

std::string format_latency(const Fault& f) {
    std::string v = std::to_string(f.delay.count());
    if (f.jitter.count() > 0) {
        v += "+-" + std::to_string(f.jitter.count());
    }
    return v;
}

std::string describe_latency(const Fault& f) {
    std::string d = "latency " + std::to_string(f.delay.count()) + " ms per packet";
    if (f.jitter.count() > 0) {
        d += " ±" + std::to_string(f.jitter.count()) + " ms";
    }
    return d;
}

// --- bandwidth ----------------------------------------------------------------------------

Result<Fault> parse_bandwidth(Fault f, std::string_view body, std::string_view text) {
    auto r = parse_rate(body);
    if (!r) {
        return bad_flag(f.kind, text,
                        "RATE such as 1mbit, 512kbit or 100KB/s (at least 8kbit = 1000 B/s)");
    }
    if (*r < 1000) {
        return bad_flag(f.kind, text, "at least 8kbit (1000 B/s)");
    }
    f.bytes = *r;
    return f;
}

std::string format_bandwidth(const Fault& f) {
    return std::to_string(f.bytes) + "B/s";
}

std::string describe_bandwidth(const Fault& f) {
    return "bandwidth limited to " + format_size(f.bytes) + "/s";
}

// --- reset-after --------------------------------------------------------------------------

Result<Fault> parse_reset_after(Fault f, std::string_view body, std::string_view text) {
    auto colon = body.rfind(':');
    if (colon == std::string_view::npos) {
        return fail(Errc::invalid_argument,
                    "--reset-after needs --port PORT: the port whose connections are cut");
    }
    auto size = parse_size(body.substr(0, colon));
    auto port = parse_int<uint16_t>(body.substr(colon + 1));
    if (!size || *size == 0) {
        return bad_flag(f.kind, text, "BYTES such as 4096 or 64K, then --port PORT");
    }
    if (!port || *port == 0) {
        return fail(Errc::invalid_argument, "--port '" + std::string(body.substr(colon + 1)) +
                                                "': expected a port from 1 to 65535");
    }
    f.bytes = *size;
    f.port = *port;
    return f;
}

std::string format_reset_after(const Fault& f) {
    return std::to_string(f.bytes) + ":" + std::to_string(f.port);
}

std::string describe_reset_after(const Fault& f) {
    return "connections on port " + std::to_string(f.port) + " reset after " + format_size(f.bytes);
}

// --- dns-fail -----------------------------------------------------------------------------

Result<Fault> parse_dns_fail(Fault f, std::string_view body, std::string_view text) {
    if (!trim(body).empty()) {
        return bad_flag(f.kind, text, "no value");
    }
    return f;
}

std::string format_nothing(const Fault&) {
    return "";
}

std::string describe_dns_fail(const Fault&) {
    return "DNS resolution fails";
}

// --- disk-full ----------------------------------------------------------------------------

Result<Fault> parse_disk_full(Fault f, std::string_view body, std::string_view text) {
    auto rest = take_path(f, body, text);
    if (!rest) {
        return fail(rest.error());
    }
    auto size = parse_size(*rest);
    if (rest->empty() || !size || *size < 4096) {
        return bad_flag(f.kind, text, "PATH:SIZE with SIZE at least 4K, e.g. /var/lib/app:1M");
    }
    f.bytes = *size;
    return f;
}

std::string format_disk_full(const Fault& f) {
    return f.path + ":" + std::to_string(f.bytes);
}

std::string describe_disk_full(const Fault& f) {
    return f.path + " full at " + format_size(f.bytes);
}

// --- io-error -----------------------------------------------------------------------------

constexpr std::pair<unsigned, std::string_view> k_io_ops[] = {
    {k_io_read, "read"}, {k_io_write, "write"}, {k_io_fsync, "fsync"}};

Result<Fault> parse_io_error(Fault f, std::string_view body, std::string_view text) {
    auto rest = take_path(f, body, text);
    if (!rest) {
        return fail(rest.error());
    }
    auto colon = rest->find(':');
    auto pct = parse_percent(rest->substr(0, colon));
    if (rest->empty() || !pct || *pct == 0) {
        return bad_flag(f.kind, text, "PATH:PCT[:read|write|fsync] with PCT from 1 to 100");
    }
    f.percent = *pct;
    if (colon == std::string_view::npos) {
        return f;
    }
    std::string_view ops = rest->substr(colon + 1);
    f.ops = 0;
    size_t i = 0;
    while (i <= ops.size()) {
        size_t j = ops.find(',', i);
        std::string_view op = ops.substr(i, j == std::string_view::npos ? j : j - i);
        unsigned bit = 0;
        for (const auto& [b, name] : k_io_ops) {
            bit = op == name ? b : bit;
        }
        if (bit == 0) {
            return bad_flag(f.kind, text,
                            "operations after the percentage: read, write or fsync "
                            "(comma-separated)");
        }
        f.ops |= bit;
        if (j == std::string_view::npos) {
            break;
        }
        i = j + 1;
    }
    return f;
}

// The chosen operations, comma-separated; empty when all are.
std::string io_ops_list(const Fault& f, std::string_view separator) {
    std::string ops;
    if (f.ops == k_io_all) {
        return ops;
    }
    for (const auto& [bit, name] : k_io_ops) {
        if (f.ops & bit) {
            ops += (ops.empty() ? "" : std::string(separator)) + std::string(name);
        }
    }
    return ops;
}

std::string format_io_error(const Fault& f) {
    std::string ops = io_ops_list(f, ",");
    return f.path + ":" + std::to_string(f.percent) + (ops.empty() ? "" : ":" + ops);
}

std::string describe_io_error(const Fault& f) {
    std::string ops = io_ops_list(f, ", ");
    return "EIO on " + std::to_string(f.percent) + "% of operations" +
           (ops.empty() ? "" : " (" + ops + ")") + " under " + f.path;
}

// --- slow-io ------------------------------------------------------------------------------

Result<Fault> parse_slow_io(Fault f, std::string_view body, std::string_view text) {
    auto rest = take_path(f, body, text);
    if (!rest) {
        return fail(rest.error());
    }
    auto d = parse_ms(*rest);
    if (rest->empty() || !d || d->count() <= 0 || d->count() > 60000) {
        return bad_flag(f.kind, text, "PATH:MS with MS from 1 to 60000");
    }
    f.delay = *d;
    return f;
}

std::string format_slow_io(const Fault& f) {
    return f.path + ":" + std::to_string(f.delay.count());
}

std::string describe_slow_io(const Fault& f) {
    return std::to_string(f.delay.count()) + " ms added to each operation under " + f.path;
}

// --- lose-unsynced ------------------------------------------------------------------------

Result<Fault> parse_lose_unsynced(Fault f, std::string_view body, std::string_view text) {
    auto rest = take_path(f, body, text);
    if (!rest) {
        return fail(rest.error());
    }
    if (!rest->empty()) {
        return bad_flag(f.kind, text, "just PATH");
    }
    return f;
}

std::string format_path(const Fault& f) {
    return f.path;
}

std::string describe_lose_unsynced(const Fault& f) {
    return "data not fsynced under " + f.path + " is lost at the end";
}

// --- memory, alloc-limit ------------------------------------------------------------------

Result<Fault> parse_limit_size(Fault f, std::string_view body, std::string_view text) {
    auto size = parse_size(body);
    if (!size || *size < 1048576) {
        return bad_flag(f.kind, text, "SIZE of at least 1M, e.g. 64M");
    }
    f.bytes = *size;
    return f;
}

std::string format_bytes(const Fault& f) {
    return std::to_string(f.bytes);
}

std::string describe_memory(const Fault& f) {
    return "memory limited to " + format_size(f.bytes) + " (OOM kill past it)";
}

std::string describe_alloc_limit(const Fault& f) {
    return "address space limited to " + format_size(f.bytes) + " (allocations fail)";
}

// --- clock-skew ---------------------------------------------------------------------------

Result<Fault> parse_clock_skew(Fault f, std::string_view body, std::string_view text) {
    std::string_view s = trim(body);
    bool negative = !s.empty() && s.front() == '-';
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        s.remove_prefix(1);
    }
    std::optional<int64_t> seconds;
    if (auto n = parse_int<int64_t>(s)) {
        seconds = *n;
    } else if (auto d = parse_duration(s); d && d->count() % 1000 == 0) {
        seconds = d->count() / 1000;
    }
    if (!seconds || *seconds == 0 || *seconds > 100LL * 365 * 86400) {
        return bad_flag(f.kind, text,
                        "SECONDS, signed, non-zero, e.g. 3600, -90 or 2h (within 100 years)");
    }
    f.skew_seconds = negative ? -*seconds : *seconds;
    return f;
}

std::string format_clock_skew(const Fault& f) {
    return std::to_string(f.skew_seconds);
}

std::string describe_clock_skew(const Fault& f) {
    return "wall clock " + std::string(f.skew_seconds > 0 ? "+" : "") +
           std::to_string(f.skew_seconds) + " s";
}

// --- the table ----------------------------------------------------------------------------

using K = FaultKind;
using P = ProfileKey;

// One row per kind, as a table: kind, name, flag style, flag syntax, flag help, timeline,
// scope, profile keys, then its parse, format and describe functions.
// clang-format off
const KindSpec k_kinds[] = {
    {K::loss, "loss", FlagStyle::value, "PCT[/tcp|udp]", "drop PCT% of incoming packets",
     true, Scope::many, {P{"", "percent", true}, P{"/", "proto"}, P{}},
     parse_loss, format_loss, describe_loss},
    {K::block_port, "block-port", FlagStyle::value, "PORT[/tcp|udp][:reject|drop]",
     "refuse (ECONNREFUSED) or silently drop connections to PORT",
     true, Scope::many, {P{"", "port", true}, P{"/", "proto"}, P{":", "mode"}},
     parse_block_port, format_block_port, describe_block_port},
    {K::latency, "latency", FlagStyle::value, "MS[±JITTER]",
     "hold every packet MS (±JITTER) milliseconds",
     true, Scope::one_per_sandbox, {P{"", "ms", true}, P{"+-", "jitter_ms"}, P{}},
     parse_latency, format_latency, describe_latency},
    {K::bandwidth, "bandwidth", FlagStyle::value, "RATE", "limit the sandbox's network to RATE",
     true, Scope::one_per_sandbox, {P{"", "rate", true}, P{}, P{}},
     parse_bandwidth, format_bandwidth, describe_bandwidth},
    {K::reset_after, "reset-after", FlagStyle::with_port, "BYTES",
     "reset connections on --port after BYTES (ECONNRESET mid-stream)",
     true, Scope::many, {P{"", "bytes", true}, P{":", "port", true}, P{}},
     parse_reset_after, format_reset_after, describe_reset_after},
    {K::dns_fail, "dns-fail", FlagStyle::bare, "", "name resolution fails (DNS queries refused)",
     true, Scope::one_per_sandbox, {P{}, P{}, P{}},
     parse_dns_fail, format_nothing, describe_dns_fail},
    {K::disk_full, "disk-full", FlagStyle::value, "PATH:SIZE[@SECONDS]",
     "ENOSPC past SIZE under PATH (a sandbox tmpfs holding a copy of PATH)",
     true, Scope::one_per_path, {P{"", "path", true}, P{":", "size", true}, P{}},
     parse_disk_full, format_disk_full, describe_disk_full},
    {K::io_error, "io-error", FlagStyle::value, "PATH:PCT[:read|write|fsync]",
     "EIO on PCT% of operations under PATH",
     true, Scope::one_per_path, {P{"", "path", true}, P{":", "percent", true}, P{":", "ops"}},
     parse_io_error, format_io_error, describe_io_error},
    {K::slow_io, "slow-io", FlagStyle::value, "PATH:MS", "add MS to each operation under PATH",
     true, Scope::one_per_path, {P{"", "path", true}, P{":", "ms", true}, P{}},
     parse_slow_io, format_slow_io, describe_slow_io},
    {K::lose_unsynced, "lose-unsynced", FlagStyle::value, "PATH",
     "power loss at the end: data under PATH not fsynced is gone",
     false, Scope::one_per_path, {P{"", "path", true}, P{}, P{}},
     parse_lose_unsynced, format_path, describe_lose_unsynced},
    {K::memory, "memory", FlagStyle::value, "SIZE", "memory cgroup limit: OOM kill past SIZE",
     true, Scope::one_per_sandbox, {P{"", "size", true}, P{}, P{}},
     parse_limit_size, format_bytes, describe_memory},
    {K::alloc_limit, "alloc-limit", FlagStyle::value, "SIZE",
     "address-space limit: allocations fail past SIZE",
     false, Scope::one_per_sandbox, {P{"", "size", true}, P{}, P{}},
     parse_limit_size, format_bytes, describe_alloc_limit},
    {K::clock_skew, "clock-skew", FlagStyle::value, "SECONDS", "shift the wall clock by SECONDS",
     false, Scope::one_per_sandbox, {P{"", "seconds", true}, P{}, P{}},
     parse_clock_skew, format_clock_skew, describe_clock_skew},
};
// clang-format on

}  // namespace

std::span<const KindSpec> fault_kinds() {
    return k_kinds;
}

const KindSpec& kind_spec(FaultKind kind) {
    for (const auto& k : k_kinds) {
        if (k.kind == kind) {
            return k;
        }
    }
    SHIPSHAPE_ASSERT(false && "a FaultKind without a row in k_kinds");
    return k_kinds[0];
}

tl::unexpected<Error> bad_flag(FaultKind kind, std::string_view text, std::string_view expected) {
    return fail(Errc::invalid_argument, "--" + std::string(kind_spec(kind).name) + " '" +
                                            std::string(text) + "': expected " +
                                            std::string(expected));
}

}  // namespace shipshape::faults
