#include "core/duration.hpp"

#include <cstdint>
#include <cstdio>
#include <limits>

namespace shipshape {

namespace {

constexpr std::string_view k_expected = "expected a duration such as 500ms, 30s, 2m, 1h30m or 1d";

Result<int64_t> unit_millis(std::string_view unit) {
    if (unit == "ms") {
        return 1;
    }
    if (unit == "s") {
        return 1000;
    }
    if (unit == "m") {
        return 60 * 1000;
    }
    if (unit == "h") {
        return 60 * 60 * 1000;
    }
    if (unit == "d") {
        return 24 * 60 * 60 * 1000;
    }
    return fail(Errc::invalid_argument, "unknown unit '" + std::string(unit) + "'");
}

}  // namespace

Result<Millis> parse_duration(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return fail(Errc::invalid_argument, "invalid duration '" + std::string(text) + "' (" +
                                                std::string(why) + "): " + std::string(k_expected));
    };
    if (text.empty()) {
        return bad("empty");
    }
    int64_t total = 0;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] < '0' || text[i] > '9') {
            return bad("a number must come first");
        }
        int64_t number = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            number = number * 10 + (text[i] - '0');
            if (number > std::numeric_limits<int32_t>::max()) {
                return bad("too large");
            }
            ++i;
        }
        size_t unit_start = i;
        while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') {
            ++i;
        }
        if (unit_start == i) {
            return bad("missing unit");
        }
        auto unit = unit_millis(text.substr(unit_start, i - unit_start));
        if (!unit) {
            return bad(unit.error().message());
        }
        total += number * *unit;
        if (total > std::numeric_limits<int64_t>::max() / 2) {
            return bad("too large");
        }
    }
    return Millis(total);
}

std::string format_duration(Millis d) {
    const int64_t ms = d.count();
    char buf[32];
    if (ms < 1000) {
        std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
    } else if (ms < int64_t{60} * 1000) {
        std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    } else if (ms < int64_t{60} * 60 * 1000) {
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60000),
                      static_cast<long long>((ms / 1000) % 60));
    } else {
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(ms / 3600000),
                      static_cast<long long>((ms / 60000) % 60));
    }
    return buf;
}

}  // namespace shipshape
