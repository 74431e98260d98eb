#include "server/history.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>

namespace shipshape::server {

namespace {

constexpr int64_t k_day_ms = 24LL * 3600 * 1000;

bool ended(std::string_view s) {
    return s == "done" || s == "failed" || s == "undone" || s == "undo-failed" ||
           s == "interrupted";
}

bool failure(std::string_view s) {
    return s == "failed" || s == "interrupted" || s == "undo-failed";
}

// Nearest-rank median of a sorted, non-empty list: the smaller middle of an even count.
int64_t median(const std::vector<int64_t>& sorted) {
    return sorted[(sorted.size() - 1) / 2];
}

}  // namespace

std::string utc_day(int64_t ms) {
    using namespace std::chrono;
    auto days = floor<std::chrono::days>(sys_time<milliseconds>(milliseconds(ms)));
    year_month_day ymd(days);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    return buf;
}

Result<HistoryQuery> parse_history_query(const Query& query) {
    auto parsed = parse_name_query(query, {"checklist", "days"}, {"days"});
    if (!parsed) {
        return tl::unexpected(parsed.error());
    }
    HistoryQuery q;
    for (const auto& [name, value] : *parsed) {
        if (name == "checklist") {
            q.checklist = value;
            continue;
        }
        int n = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n < 1 ||
            n > k_history_max_days) {
            std::string shown = value.substr(0, 32);
            return fail(Errc::invalid_argument,
                        "days must be a whole number from 1 to " +
                            std::to_string(k_history_max_days) + ", not '" +
                            (std::all_of(shown.begin(), shown.end(),
                                         [](char c) { return c >= 0x20 && c != 0x7f; })
                                 ? shown
                                 : std::string("(control characters)")) +
                            "'");
        }
        q.days = n;
    }
    return q;
}

History compute_history(const std::vector<store::RunRecord>& runs, const HistoryQuery& query,
                        int64_t now_ms) {
    History h;
    h.days = query.days;
    int64_t today_start = now_ms - ((now_ms % k_day_ms) + k_day_ms) % k_day_ms;
    int64_t from_ms = today_start - (query.days - 1) * k_day_ms;
    h.from = utc_day(from_ms);
    h.to = utc_day(now_ms);
    // checklist -> day -> (runs, failures, ended durations)
    struct Acc {
        int runs = 0;
        int failures = 0;
        std::vector<int64_t> durations;
    };
    std::map<std::string, std::map<std::string, Acc>> acc;
    for (const auto& r : runs) {
        if (r.started_at < from_ms ||
            (!query.checklist.empty() && r.checklist_name != query.checklist)) {
            continue;
        }
        Acc& a = acc[r.checklist_name][utc_day(r.started_at)];
        ++a.runs;
        if (failure(r.status)) {
            ++a.failures;
        }
        if (ended(r.status) && r.updated_at >= r.started_at) {
            a.durations.push_back(r.updated_at - r.started_at);
        }
    }
    for (auto& [name, days] : acc) {
        ChecklistHistory ch{name, {}};
        for (auto& [day, a] : days) {
            HistoryDay d{day, a.runs, a.failures, std::nullopt, std::nullopt};
            if (!a.durations.empty()) {
                std::sort(a.durations.begin(), a.durations.end());
                d.p50_ms = median(a.durations);
                d.max_ms = a.durations.back();
            }
            ch.days.push_back(d);
        }
        h.checklists.push_back(std::move(ch));
    }
    return h;
}

}  // namespace shipshape::server
