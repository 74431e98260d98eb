// What is common to every fault kind: names, the @START-STOP window, parsing and formatting a
// flag through the kind's row (fault_kinds.hpp), and the checks across a set of faults.
#include "faults/fault.hpp"

#include <cmath>
#include <cstdlib>
#include <map>

#include "core/text.hpp"
#include "faults/fault_kinds.hpp"

namespace shipshape::faults {

namespace {

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

std::string window_text(const Fault& f, std::string_view at, std::string_view to) {
    if (!f.start && !f.stop) {
        return "";
    }
    std::string w = std::string(at) + format_millis(f.start.value_or(Millis(0)));
    if (f.stop) {
        w += std::string(to) + format_millis(*f.stop);
    }
    return w;
}

}  // namespace

bool Fault::operator==(const Fault& o) const {
    return kind == o.kind && percent == o.percent && proto == o.proto && port == o.port &&
           mode == o.mode && delay == o.delay && jitter == o.jitter && bytes == o.bytes &&
           path == o.path && ops == o.ops && skew_seconds == o.skew_seconds && start == o.start &&
           stop == o.stop;
}

std::string_view fault_kind_name(FaultKind kind) {
    return kind_spec(kind).name;
}

std::optional<FaultKind> parse_fault_kind(std::string_view name) {
    for (const auto& k : fault_kinds()) {
        if (k.name == name) {
            return k.kind;
        }
    }
    return std::nullopt;
}

bool kind_has_timeline(FaultKind kind) {
    return kind_spec(kind).has_timeline;
}

Result<Fault> parse_fault_flag(FaultKind kind, std::string_view text) {
    const KindSpec& spec = kind_spec(kind);
    std::string flag = "--" + std::string(spec.name);
    auto w = split_window(flag, text);
    if (!w) {
        return fail(w.error());
    }
    Fault blank;
    blank.kind = kind;
    auto f = spec.parse(std::move(blank), w->body, text);
    if (!f) {
        return f;
    }
    f->origin = flag;
    f->start = w->start;
    f->stop = w->stop;
    if ((f->start || f->stop) && !spec.has_timeline) {
        return fail(Errc::invalid_argument,
                    flag + " holds for the whole run: it takes no @ window");
    }
    if (f->start && f->stop && *f->stop <= *f->start) {
        return bad_flag(kind, text, "a window whose stop comes after its start");
    }
    return f;
}

std::string format_fault_value(const Fault& f) {
    return kind_spec(f.kind).format(f) + window_text(f, "@", "-");
}

std::string describe_fault(const Fault& f) {
    return kind_spec(f.kind).describe(f) + window_text(f, " from ", " to ");
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
        switch (kind_spec(f.kind).scope) {
            case Scope::one_per_sandbox: {
                auto [it, inserted] = single.emplace(f.kind, &f);
                if (!inserted) {
                    return fail(Errc::invalid_argument,
                                f.origin + ": only one " + std::string(fault_kind_name(f.kind)) +
                                    " fault per sandbox (another comes from " + it->second->origin +
                                    ")");
                }
                break;
            }
            case Scope::one_per_path: {
                auto [it, inserted] = per_path.emplace(std::make_pair(f.path, f.kind), &f);
                if (!inserted) {
                    return fail(Errc::invalid_argument,
                                f.origin + ": " + f.path + " already has a " +
                                    std::string(fault_kind_name(f.kind)) + " fault (from " +
                                    it->second->origin + ")");
                }
                break;
            }
            case Scope::many:
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
