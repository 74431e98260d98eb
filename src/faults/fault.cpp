#include "faults/fault.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/size.hpp"

namespace shipshape::faults {

namespace {

struct KindName {
    FaultKind kind;
    std::string_view name;
};

constexpr KindName k_kinds[] = {
    {FaultKind::loss, "loss"},
    {FaultKind::block_port, "block-port"},
    {FaultKind::latency, "latency"},
    {FaultKind::bandwidth, "bandwidth"},
    {FaultKind::reset_after, "reset-after"},
    {FaultKind::dns_fail, "dns-fail"},
    {FaultKind::disk_full, "disk-full"},
    {FaultKind::io_error, "io-error"},
    {FaultKind::slow_io, "slow-io"},
    {FaultKind::lose_unsynced, "lose-unsynced"},
    {FaultKind::memory, "memory"},
    {FaultKind::alloc_limit, "alloc-limit"},
    {FaultKind::clock_skew, "clock-skew"},
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') {
        s.remove_prefix(1);
    }
    while (!s.empty() && s.back() == ' ') {
        s.remove_suffix(1);
    }
    return s;
}

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

// A plain number of seconds ("2", "1.5") or a duration ("500ms", "2s", "1m").
std::optional<Millis> parse_time(std::string_view s) {
    s = trim(s);
    if (s.empty()) {
        return std::nullopt;
    }
    bool plain = s.find_first_not_of("0123456789.") == std::string_view::npos;
    if (plain) {
        char* end = nullptr;
        std::string copy(s);
        double seconds = std::strtod(copy.c_str(), &end);
        if (end != copy.c_str() + copy.size() || seconds < 0 || seconds > 1e9) {
            return std::nullopt;
        }
        return Millis(std::llround(seconds * 1000.0));
    }
    auto d = parse_duration(s);
    if (!d) {
        return std::nullopt;
    }
    return *d;
}

std::string format_millis(Millis m) {
    if (m.count() % 1000 == 0) {
        return std::to_string(m.count() / 1000) + "s";
    }
    return std::to_string(m.count()) + "ms";
}

// Splits "X@A-B" into X and the window. A '@' inside a path is allowed as long as the part
// after the last '@' is not a valid window.
struct Windowed {
    std::string_view body;
    std::optional<Millis> start;
    std::optional<Millis> stop;
};

Result<Windowed> split_window(std::string_view flag, std::string_view text) {
    Windowed w{text, std::nullopt, std::nullopt};
    auto at = text.rfind('@');
    if (at == std::string_view::npos) {
        return w;
    }
    std::string_view window = text.substr(at + 1);
    auto dash = window.find('-');
    auto start = parse_time(window.substr(0, dash));
    std::optional<Millis> stop;
    if (dash != std::string_view::npos) {
        stop = parse_time(window.substr(dash + 1));
        if (!stop) {
            start.reset();
        }
    }
    if (!start) {
        return fail(Errc::invalid_argument,
                    std::string(flag) + " '" + std::string(text) +
                        "': the part after '@' must be " +
                        "a time window START or START-STOP, e.g. @2s or @2s-5s");
    }
    w.body = text.substr(0, at);
    w.start = start;
    w.stop = stop;
    return w;
}

tl::unexpected<Error> bad(std::string_view flag, std::string_view text, std::string_view expected) {
    return fail(Errc::invalid_argument, "--" + std::string(flag) + " '" + std::string(text) +
                                            "': expected " + std::string(expected));
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

std::string_view proto_name(Proto p) {
    switch (p) {
        case Proto::tcp:
            return "tcp";
        case Proto::udp:
            return "udp";
        case Proto::any:
            break;
    }
    return "any";
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

Result<Fault> parse_body(FaultKind kind, std::string_view flag, std::string_view body,
                         std::string_view text) {
    Fault f;
    f.kind = kind;
    switch (kind) {
        case FaultKind::loss: {
            auto slash = body.find('/');
            auto pct = parse_percent(body.substr(0, slash));
            if (!pct || *pct == 0) {
                return bad(flag, text, "PCT[/tcp|udp] with PCT from 1 to 100, e.g. 20 or 20/udp");
            }
            f.percent = *pct;
            if (slash != std::string_view::npos) {
                auto p = parse_proto(body.substr(slash + 1));
                if (!p) {
                    return bad(flag, text, "the protocol after '/' to be tcp or udp");
                }
                f.proto = *p;
            }
            return f;
        }
        case FaultKind::block_port: {
            std::string_view rest = body;
            auto colon = rest.find(':');
            if (colon != std::string_view::npos) {
                std::string_view mode = rest.substr(colon + 1);
                if (mode == "reject") {
                    f.mode = BlockMode::reject;
                } else if (mode == "drop") {
                    f.mode = BlockMode::drop;
                } else {
                    return bad(flag, text, "the mode after ':' to be reject or drop");
                }
                rest = rest.substr(0, colon);
            }
            auto slash = rest.find('/');
            auto port = parse_int<uint16_t>(rest.substr(0, slash));
            if (!port || *port == 0) {
                return bad(flag, text, "PORT[/tcp|udp][:reject|drop] with PORT from 1 to 65535");
            }
            f.port = *port;
            if (slash != std::string_view::npos) {
                auto p = parse_proto(rest.substr(slash + 1));
                if (!p) {
                    return bad(flag, text, "the protocol after '/' to be tcp or udp");
                }
                f.proto = *p;
            }
            return f;
        }
        case FaultKind::latency: {
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
            auto as_ms = [](std::string_view s) -> std::optional<Millis> {
                s = trim(s);
                if (auto n = parse_int<int64_t>(s)) {
                    return Millis(*n);
                }
                auto d = parse_duration(s);
                return d ? std::optional<Millis>(*d) : std::nullopt;
            };
            auto d = as_ms(main);
            if (!d || d->count() <= 0 || d->count() > 60000) {
                return bad(flag, text,
                           "MS[±JITTER] in milliseconds from 1 to 60000, e.g. 50 or 50±10");
            }
            f.delay = *d;
            if (!jitter.empty()) {
                auto j = as_ms(jitter);
                if (!j || j->count() < 0 || *j > *d) {
                    return bad(flag, text, "a jitter from 0 up to the latency itself");
                }
                f.jitter = *j;
            }
            return f;
        }
        case FaultKind::bandwidth: {
            auto r = parse_rate(body);
            if (!r) {
                return bad(flag, text,
                           "RATE such as 1mbit, 512kbit or 100KB/s (at least 8kbit = 1000 B/s)");
            }
            if (*r < 1000) {
                return bad(flag, text, "at least 8kbit (1000 B/s)");
            }
            f.bytes = *r;
            return f;
        }
        case FaultKind::reset_after: {
            auto colon = body.rfind(':');
            if (colon == std::string_view::npos) {
                return fail(Errc::invalid_argument,
                            "--reset-after needs --port PORT: the port whose connections are cut");
            }
            auto size = parse_size(body.substr(0, colon));
            auto port = parse_int<uint16_t>(body.substr(colon + 1));
            if (!size || *size == 0) {
                return bad(flag, text, "BYTES such as 4096 or 64K, then --port PORT");
            }
            if (!port || *port == 0) {
                return fail(Errc::invalid_argument, "--port '" +
                                                        std::string(body.substr(colon + 1)) +
                                                        "': expected a port from 1 to 65535");
            }
            f.bytes = *size;
            f.port = *port;
            return f;
        }
        case FaultKind::dns_fail:
            if (!trim(body).empty()) {
                return bad(flag, text, "no value");
            }
            return f;
        case FaultKind::disk_full:
        case FaultKind::io_error:
        case FaultKind::slow_io:
        case FaultKind::lose_unsynced: {
            auto parts = split_path(body);
            if (!parts || !valid_path(parts->first)) {
                return bad(flag, text,
                           "an absolute, normalized directory path first (no '.', '..' or "
                           "trailing '/'), other than /");
            }
            f.path = std::string(parts->first);
            std::string_view rest = parts->second;
            if (kind == FaultKind::lose_unsynced) {
                if (!rest.empty()) {
                    return bad(flag, text, "just PATH");
                }
                return f;
            }
            if (kind == FaultKind::disk_full) {
                auto size = parse_size(rest);
                if (rest.empty() || !size || *size < 4096) {
                    return bad(flag, text, "PATH:SIZE with SIZE at least 4K, e.g. /var/lib/app:1M");
                }
                f.bytes = *size;
                return f;
            }
            if (kind == FaultKind::slow_io) {
                auto ms = parse_int<int64_t>(rest);
                std::optional<Millis> d;
                if (ms) {
                    d = Millis(*ms);
                } else if (auto pd = parse_duration(rest)) {
                    d = *pd;
                }
                if (rest.empty() || !d || d->count() <= 0 || d->count() > 60000) {
                    return bad(flag, text, "PATH:MS with MS from 1 to 60000");
                }
                f.delay = *d;
                return f;
            }
            auto colon = rest.find(':');
            auto pct = parse_percent(rest.substr(0, colon));
            if (rest.empty() || !pct || *pct == 0) {
                return bad(flag, text, "PATH:PCT[:read|write|fsync] with PCT from 1 to 100");
            }
            f.percent = *pct;
            if (colon != std::string_view::npos) {
                std::string_view ops = rest.substr(colon + 1);
                f.ops = 0;
                size_t i = 0;
                while (i <= ops.size()) {
                    size_t j = ops.find(',', i);
                    std::string_view op = ops.substr(i, j == std::string_view::npos ? j : j - i);
                    if (op == "read") {
                        f.ops |= k_io_read;
                    } else if (op == "write") {
                        f.ops |= k_io_write;
                    } else if (op == "fsync") {
                        f.ops |= k_io_fsync;
                    } else {
                        return bad(flag, text,
                                   "operations after the percentage: read, write or fsync "
                                   "(comma-separated)");
                    }
                    if (j == std::string_view::npos) {
                        break;
                    }
                    i = j + 1;
                }
            }
            return f;
        }
        case FaultKind::memory:
        case FaultKind::alloc_limit: {
            auto size = parse_size(body);
            if (!size || *size < 1048576) {
                return bad(flag, text, "SIZE of at least 1M, e.g. 64M");
            }
            f.bytes = *size;
            return f;
        }
        case FaultKind::clock_skew: {
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
                return bad(flag, text,
                           "SECONDS, signed, non-zero, e.g. 3600, -90 or 2h (within 100 years)");
            }
            f.skew_seconds = negative ? -*seconds : *seconds;
            return f;
        }
    }
    return bad(flag, text, "a known fault");
}

}  // namespace

bool Fault::operator==(const Fault& o) const {
    return kind == o.kind && percent == o.percent && proto == o.proto && port == o.port &&
           mode == o.mode && delay == o.delay && jitter == o.jitter && bytes == o.bytes &&
           path == o.path && ops == o.ops && skew_seconds == o.skew_seconds && start == o.start &&
           stop == o.stop;
}

std::string_view fault_kind_name(FaultKind kind) {
    for (const auto& k : k_kinds) {
        if (k.kind == kind) {
            return k.name;
        }
    }
    return "unknown";
}

std::optional<FaultKind> parse_fault_kind(std::string_view name) {
    for (const auto& k : k_kinds) {
        if (k.name == name) {
            return k.kind;
        }
    }
    return std::nullopt;
}

bool kind_has_timeline(FaultKind kind) {
    switch (kind) {
        case FaultKind::lose_unsynced:
        case FaultKind::alloc_limit:
        case FaultKind::clock_skew:
            return false;
        default:
            return true;
    }
}

Result<Fault> parse_fault_flag(FaultKind kind, std::string_view text) {
    std::string_view flag = fault_kind_name(kind);
    auto w = split_window("--" + std::string(flag), text);
    if (!w) {
        return fail(w.error());
    }
    auto f = parse_body(kind, flag, w->body, text);
    if (!f) {
        return f;
    }
    f->origin = "--" + std::string(flag);
    f->start = w->start;
    f->stop = w->stop;
    if ((f->start || f->stop) && !kind_has_timeline(kind)) {
        return fail(Errc::invalid_argument,
                    "--" + std::string(flag) + " holds for the whole run: it takes no @ window");
    }
    if (f->start && f->stop && *f->stop <= *f->start) {
        return bad(flag, text, "a window whose stop comes after its start");
    }
    return f;
}

std::string format_fault_value(const Fault& f) {
    std::string v;
    switch (f.kind) {
        case FaultKind::loss:
            v = std::to_string(f.percent);
            if (f.proto != Proto::any) {
                v += "/" + std::string(proto_name(f.proto));
            }
            break;
        case FaultKind::block_port:
            v = std::to_string(f.port);
            if (f.proto != Proto::any) {
                v += "/" + std::string(proto_name(f.proto));
            }
            v += f.mode == BlockMode::drop ? ":drop" : ":reject";
            break;
        case FaultKind::latency:
            v = std::to_string(f.delay.count());
            if (f.jitter.count() > 0) {
                v += "+-" + std::to_string(f.jitter.count());
            }
            break;
        case FaultKind::bandwidth:
            v = std::to_string(f.bytes) + "B/s";
            break;
        case FaultKind::reset_after:
            v = std::to_string(f.bytes) + ":" + std::to_string(f.port);
            break;
        case FaultKind::dns_fail:
            break;
        case FaultKind::disk_full:
            v = f.path + ":" + std::to_string(f.bytes);
            break;
        case FaultKind::io_error: {
            v = f.path + ":" + std::to_string(f.percent);
            if (f.ops != k_io_all) {
                std::string ops;
                if (f.ops & k_io_read) {
                    ops += "read";
                }
                if (f.ops & k_io_write) {
                    ops += std::string(ops.empty() ? "" : ",") + "write";
                }
                if (f.ops & k_io_fsync) {
                    ops += std::string(ops.empty() ? "" : ",") + "fsync";
                }
                v += ":" + ops;
            }
            break;
        }
        case FaultKind::slow_io:
            v = f.path + ":" + std::to_string(f.delay.count());
            break;
        case FaultKind::lose_unsynced:
            v = f.path;
            break;
        case FaultKind::memory:
        case FaultKind::alloc_limit:
            v = std::to_string(f.bytes);
            break;
        case FaultKind::clock_skew:
            v = std::to_string(f.skew_seconds);
            break;
    }
    if (f.start || f.stop) {
        v += "@" + format_millis(f.start.value_or(Millis(0)));
        if (f.stop) {
            v += "-" + format_millis(*f.stop);
        }
    }
    return v;
}

std::string describe_fault(const Fault& f) {
    std::string d;
    std::string proto = f.proto == Proto::any ? "" : " " + std::string(proto_name(f.proto));
    switch (f.kind) {
        case FaultKind::loss:
            d = "loss of " + std::to_string(f.percent) + "% of incoming" + proto + " packets";
            break;
        case FaultKind::block_port:
            d = "port " + std::to_string(f.port) + proto + " blocked (" +
                (f.mode == BlockMode::drop ? "dropped silently" : "refused") + ")";
            break;
        case FaultKind::latency:
            d = "latency " + std::to_string(f.delay.count()) + " ms per packet";
            if (f.jitter.count() > 0) {
                d += " ±" + std::to_string(f.jitter.count()) + " ms";
            }
            break;
        case FaultKind::bandwidth:
            d = "bandwidth limited to " + format_size(f.bytes) + "/s";
            break;
        case FaultKind::reset_after:
            d = "connections on port " + std::to_string(f.port) + " reset after " +
                format_size(f.bytes);
            break;
        case FaultKind::dns_fail:
            d = "DNS resolution fails";
            break;
        case FaultKind::disk_full:
            d = f.path + " full at " + format_size(f.bytes);
            break;
        case FaultKind::io_error: {
            std::string ops;
            for (auto [bit, name] : {std::pair{k_io_read, "read"}, std::pair{k_io_write, "write"},
                                     std::pair{k_io_fsync, "fsync"}}) {
                if (f.ops != k_io_all && (f.ops & bit)) {
                    ops += std::string(ops.empty() ? " (" : ", ") + name;
                }
            }
            d = "EIO on " + std::to_string(f.percent) + "% of operations" +
                (ops.empty() ? "" : ops + ")") + " under " + f.path;
            break;
        }
        case FaultKind::slow_io:
            d = std::to_string(f.delay.count()) + " ms added to each operation under " + f.path;
            break;
        case FaultKind::lose_unsynced:
            d = "data not fsynced under " + f.path + " is lost at the end";
            break;
        case FaultKind::memory:
            d = "memory limited to " + format_size(f.bytes) + " (OOM kill past it)";
            break;
        case FaultKind::alloc_limit:
            d = "address space limited to " + format_size(f.bytes) + " (allocations fail)";
            break;
        case FaultKind::clock_skew:
            d = "wall clock " + std::string(f.skew_seconds > 0 ? "+" : "") +
                std::to_string(f.skew_seconds) + " s";
            break;
    }
    if (f.start || f.stop) {
        d += " from " + format_millis(f.start.value_or(Millis(0)));
        if (f.stop) {
            d += " to " + format_millis(*f.stop);
        }
    }
    return d;
}

Result<uint64_t> parse_rate(std::string_view text) {
    std::string_view s = trim(text);
    size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
        ++i;
    }
    auto invalid = [&] {
        return fail(Errc::invalid_argument, "invalid rate '" + std::string(text) +
                                                "': expected e.g. 1mbit, 512kbit or 100KB/s");
    };
    if (i == 0) {
        return invalid();
    }
    char* end = nullptr;
    std::string number(s.substr(0, i));
    double n = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) {
        return invalid();
    }
    std::string_view unit = trim(s.substr(i));
    static const std::map<std::string_view, double> k_units = {
        {"bit", 1.0 / 8},     {"kbit", 1000.0 / 8}, {"mbit", 1e6 / 8},     {"gbit", 1e9 / 8},
        {"B/s", 1},           {"KB/s", 1e3},        {"MB/s", 1e6},         {"GB/s", 1e9},
        {"KiB/s", 1024},      {"MiB/s", 1048576},   {"GiB/s", 1073741824}, {"bps", 1.0 / 8},
        {"kbps", 1000.0 / 8}, {"mbps", 1e6 / 8},    {"gbps", 1e9 / 8},
    };
    auto u = k_units.find(unit);
    if (u == k_units.end()) {
        return invalid();
    }
    double bytes = n * u->second;
    if (bytes < 1 || bytes > 1e12) {
        return invalid();
    }
    return static_cast<uint64_t>(std::llround(bytes));
}

Status validate_faults(const std::vector<Fault>& faults) {
    std::map<FaultKind, const Fault*> single;
    std::map<std::pair<std::string, FaultKind>, const Fault*> per_path;
    for (const auto& f : faults) {
        if (f.start && f.stop && *f.stop <= *f.start) {
            return fail(Errc::invalid_argument, f.origin + ": stop (" + format_millis(*f.stop) +
                                                    ") must come after start (" +
                                                    format_millis(*f.start) + ")");
        }
        switch (f.kind) {
            case FaultKind::memory:
            case FaultKind::alloc_limit:
            case FaultKind::clock_skew:
            case FaultKind::latency:
            case FaultKind::bandwidth:
            case FaultKind::dns_fail: {
                auto [it, inserted] = single.emplace(f.kind, &f);
                if (!inserted) {
                    return fail(Errc::invalid_argument,
                                f.origin + ": only one " + std::string(fault_kind_name(f.kind)) +
                                    " fault per sandbox (another comes from " + it->second->origin +
                                    ")");
                }
                break;
            }
            case FaultKind::disk_full:
            case FaultKind::io_error:
            case FaultKind::slow_io:
            case FaultKind::lose_unsynced: {
                auto [it, inserted] = per_path.emplace(std::make_pair(f.path, f.kind), &f);
                if (!inserted) {
                    return fail(Errc::invalid_argument,
                                f.origin + ": " + f.path + " already has a " +
                                    std::string(fault_kind_name(f.kind)) + " fault (from " +
                                    it->second->origin + ")");
                }
                break;
            }
            default:
                break;
        }
    }
    // Nested paths would stack a file system on another fault's directory in an order the user
    // cannot see; refuse rather than guess.
    for (const auto& a : faults) {
        for (const auto& b : faults) {
            if (a.path.empty() || b.path.empty() || a.path == b.path) {
                continue;
            }
            if (b.path.size() > a.path.size() && b.path.compare(0, a.path.size(), a.path) == 0 &&
                b.path[a.path.size()] == '/') {
                return fail(Errc::invalid_argument, b.origin + ": " + b.path + " lies inside " +
                                                        a.path + " (from " + a.origin +
                                                        "): fault paths must not nest");
            }
        }
    }
    return {};
}

}  // namespace shipshape::faults
