#include "core/size.hpp"

#include <cmath>
#include <cstdio>

namespace shipshape {

Result<uint64_t> parse_size(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return fail(Errc::invalid_argument,
                    "invalid size '" + std::string(text) + "' (" + std::string(why) +
                        "): expected a number and a unit, e.g. 512M, 2 GiB or 10 GB");
    };
    size_t i = 0;
    while (i < text.size() && text[i] == ' ') {
        ++i;
    }
    size_t start = i;
    bool dot = false;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || (text[i] == '.' && !dot))) {
        dot = dot || text[i] == '.';
        ++i;
    }
    if (i == start) {
        return bad("a number must come first");
    }
    double number = std::strtod(std::string(text.substr(start, i - start)).c_str(), nullptr);
    while (i < text.size() && text[i] == ' ') {
        ++i;
    }
    std::string_view unit = text.substr(i);
    while (!unit.empty() && unit.back() == ' ') {
        unit.remove_suffix(1);
    }
    struct Unit {
        std::string_view name;
        double factor;
    };
    static constexpr Unit k_units[] = {
        {"", 1},
        {"B", 1},
        {"K", 1024.0},
        {"KiB", 1024.0},
        {"KB", 1e3},
        {"M", 1048576.0},
        {"MiB", 1048576.0},
        {"MB", 1e6},
        {"G", 1073741824.0},
        {"GiB", 1073741824.0},
        {"GB", 1e9},
        {"T", 1099511627776.0},
        {"TiB", 1099511627776.0},
        {"TB", 1e12},
    };
    for (const auto& u : k_units) {
        if (unit == u.name) {
            double bytes = number * u.factor;
            if (bytes >= 1.8e19) {
                return bad("too large");
            }
            return static_cast<uint64_t>(std::llround(bytes));
        }
    }
    return bad("unknown unit '" + std::string(unit) + "'");
}

std::string format_size(uint64_t bytes) {
    static constexpr const char* k_units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    if (u == 0) {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    } else {
        std::snprintf(buf, sizeof buf, "%.1f %s", v, k_units[u]);
    }
    return buf;
}

}  // namespace shipshape
