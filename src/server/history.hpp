// GET /api/v1/history: per checklist, per UTC day, how many runs started, how many failed, and
// the median (p50, nearest rank) and longest duration of those that ended (docs/specs/api.md,
// "History"). Computed from the store's runs on every request. A run's duration is from its
// start to its last update, counted only for runs that ended (done, failed, undone,
// undo-failed, interrupted); failures are runs failed, interrupted or undo-failed. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/query.hpp"
#include "store/store.hpp"

namespace shipshape::server {

inline constexpr int k_history_default_days = 30;
inline constexpr int k_history_max_days = 366;
inline constexpr int k_history_scan = 20000;

struct HistoryQuery {
    std::string checklist;  // empty: every checklist
    int days = k_history_default_days;
};

struct HistoryDay {
    std::string day;  // YYYY-MM-DD, UTC
    int runs = 0;
    int failures = 0;
    std::optional<int64_t> p50_ms;  // none when no run of the day has ended
    std::optional<int64_t> max_ms;
};

struct ChecklistHistory {
    std::string checklist;
    std::vector<HistoryDay> days;  // oldest first, only days with runs
};

struct History {
    std::string from;  // first day of the window, YYYY-MM-DD
    std::string to;    // today
    int days = 0;
    std::vector<ChecklistHistory> checklists;  // by name
};

// Parses ?checklist=&days= (days: a whole number from 1 to k_history_max_days).
// Errc::invalid_argument naming the parameter.
[[nodiscard]] Result<HistoryQuery> parse_history_query(const Query& query);

// The history of `runs` over the `query.days` UTC days ending today (`now_ms`).
History compute_history(const std::vector<store::RunRecord>& runs, const HistoryQuery& query,
                        int64_t now_ms);

// "YYYY-MM-DD" of a time in milliseconds since the epoch, UTC.
std::string utc_day(int64_t ms);

std::string json_history(const History& history);

}  // namespace shipshape::server
