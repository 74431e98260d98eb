#include "server/history.hpp"

#include <gtest/gtest.h>

namespace shipshape::server {
namespace {

constexpr int64_t k_day = 24LL * 3600 * 1000;
// 2026-12-07 12:00:00 UTC
constexpr int64_t k_now = 1796644800000;

store::RunRecord run(const std::string& checklist, const std::string& status, int64_t start,
                     int64_t duration) {
    store::RunRecord r;
    r.id = checklist + std::to_string(start);
    r.checklist_name = checklist;
    r.status = status;
    r.started_at = start;
    r.updated_at = start + duration;
    return r;
}

TEST(HistoryTest, UtcDay) {
    EXPECT_EQ(utc_day(0), "1970-01-01");
    EXPECT_EQ(utc_day(k_now), "2026-12-07");
    EXPECT_EQ(utc_day(k_now - 12 * 3600 * 1000), "2026-12-07");      // midnight is that day
    EXPECT_EQ(utc_day(k_now - 12 * 3600 * 1000 - 1), "2026-12-06");  // a millisecond before
}

TEST(HistoryTest, RunsFailuresMedianAndMaxPerChecklistPerDay) {
    std::vector<store::RunRecord> runs = {
        run("deploy", "done", k_now - 1000, 100),
        run("deploy", "failed", k_now - 2000, 300),
        run("deploy", "done", k_now - 3000, 200),
        run("deploy", "done", k_now - 4000, 400),
        run("deploy", "waiting", k_now - 5000, 999999),   // counted, but has no duration yet
        run("deploy", "interrupted", k_now - k_day, 50),  // yesterday: a failure
        run("backup", "done", k_now - 2 * k_day, 10),
        run("deploy", "done", k_now - 40 * k_day, 10),  // outside the 30 days
    };
    auto h = compute_history(runs, HistoryQuery{}, k_now);
    EXPECT_EQ(h.from, "2026-11-08");
    EXPECT_EQ(h.to, "2026-12-07");
    ASSERT_EQ(h.checklists.size(), 2u);
    EXPECT_EQ(h.checklists[0].checklist, "backup");
    const auto& deploy = h.checklists[1];
    ASSERT_EQ(deploy.days.size(), 2u);
    EXPECT_EQ(deploy.days[0].day, "2026-12-06");
    EXPECT_EQ(deploy.days[0].failures, 1);
    const auto& today = deploy.days[1];
    EXPECT_EQ(today.day, "2026-12-07");
    EXPECT_EQ(today.runs, 5);
    EXPECT_EQ(today.failures, 1);
    EXPECT_EQ(today.p50_ms, 200);  // of 100, 200, 300, 400: the lower middle
    EXPECT_EQ(today.max_ms, 400);

    auto only = compute_history(runs, HistoryQuery{"backup", 1}, k_now);
    EXPECT_TRUE(only.checklists.empty()) << "the backup run was two days ago";
    only = compute_history(runs, HistoryQuery{"backup", 3}, k_now);
    ASSERT_EQ(only.checklists.size(), 1u);
    EXPECT_EQ(only.checklists[0].days[0].p50_ms, 10);
}

TEST(HistoryTest, DaysWithoutEndedRunsHaveNoDurations) {
    auto h = compute_history({run("deploy", "running", k_now - 10, 5)}, HistoryQuery{}, k_now);
    ASSERT_EQ(h.checklists.size(), 1u);
    EXPECT_FALSE(h.checklists[0].days[0].p50_ms);
    EXPECT_NE(json_history(h).find("\"p50_ms\":null"), std::string::npos);
}

TEST(HistoryTest, QueryParsing) {
    auto q = parse_history_query({{"checklist", "deploy"}, {"days", "7"}});
    ASSERT_TRUE(q);
    EXPECT_EQ(q->checklist, "deploy");
    EXPECT_EQ(q->days, 7);
    struct Row {
        Query query;
        const char* error;
    };
    const Row rows[] = {
        // zero days is no window
        {{{"days", "0"}}, "days must be a whole number from 1 to 366, not '0'"},
        // more than a year is refused, not clamped
        {{{"days", "367"}}, "days must be a whole number from 1 to 366, not '367'"},
        // trailing garbage
        {{{"days", "7d"}}, "days must be a whole number from 1 to 366, not '7d'"},
        // an unknown parameter names the known ones
        {{{"env", "prod"}}, "unknown query parameter 'env' (known: checklist, days)"},
        // twice is ambiguous
        {{{"days", "1"}, {"days", "2"}}, "query parameter 'days' given twice"},
        // a checklist name is a name
        {{{"checklist", ""}},
         "checklist must be a name of 1 to 200 characters without control characters, not ''"},
    };
    for (const auto& row : rows) {
        auto r = parse_history_query(row.query);
        ASSERT_FALSE(r) << row.error;
        EXPECT_EQ(r.error().message(), row.error);
    }
}

}  // namespace
}  // namespace shipshape::server
