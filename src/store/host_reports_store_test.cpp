// The pull reports' contract (#20, store/host_reports.hpp), against every backend
// (store/testing/store_contract_test_fixture.hpp): a report is stored once per (host, commit,
// run) -- again, or from 4 connections at once, it is one row with one id --; the latest report
// per host, a host's reports newest first and limited, the facts kept per host and replaced only
// when they changed, and pruning that keeps each host's latest.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/host_reports.hpp"
#include "store/store.hpp"
#include "store/testing/store_contract_test_fixture.hpp"

namespace shipshape::store {
namespace {

using contract::StoreContract;

class HostReportContract : public StoreContract {
  protected:
    static HostReportRecord report(const std::string& host, const std::string& run,
                                   int64_t received_at, const std::string& commit = "") {
        HostReportRecord r;
        r.host = host;
        r.run = run;
        r.commit = commit.empty() ? std::string(40, 'a') : commit;
        r.applied_commit = r.commit;
        r.branch = "main";
        r.started_at = received_at - 400;
        r.finished_at = received_at - 10;
        r.received_at = received_at;
        r.result = "failed";
        r.exit_code = 1;
        r.error = "drift remains";
        r.resources = 12;
        r.changed = 1;
        r.failed = 0;
        r.drifted = 2;
        r.drift = {"file:/etc/motd", "service:nginx"};
        return r;
    }
    RecordedReport record(const HostReportRecord& r) {
        auto got = store->record_report(r);
        EXPECT_TRUE(got) << got.error().message();
        return got ? *got : RecordedReport{};
    }
    std::vector<std::string> runs_of(const std::string& host, int limit = 100) {
        auto got = store->host_reports(host, limit);
        EXPECT_TRUE(got) << got.error().message();
        std::vector<std::string> out;
        for (const auto& r : got ? *got : std::vector<HostReportRecord>{}) {
            out.push_back(r.run);
        }
        return out;
    }
};

TEST_P(HostReportContract, AReportRoundTripsWithoutItsFacts) {
    auto r = report("web-1", "0f3a9c2b7d4e1a65", 5000);
    r.facts = R"({"schema":"shipshape.facts/1"})";
    r.facts_hash = "h1";
    auto got = record(r);
    EXPECT_TRUE(got.inserted);
    EXPECT_GT(got.id, 0);
    auto back = store->host_reports("web-1", 10);
    ASSERT_TRUE(back) << back.error().message();
    ASSERT_EQ(back->size(), 1u);
    const auto& b = (*back)[0];
    EXPECT_EQ(b.id, got.id);
    EXPECT_EQ(b.host, "web-1");
    EXPECT_EQ(b.run, "0f3a9c2b7d4e1a65");
    EXPECT_EQ(b.commit, std::string(40, 'a'));
    EXPECT_EQ(b.applied_commit, std::string(40, 'a'));
    EXPECT_EQ(b.branch, "main");
    EXPECT_EQ(b.started_at, 4600);
    EXPECT_EQ(b.finished_at, 4990);
    EXPECT_EQ(b.received_at, 5000);
    EXPECT_EQ(b.result, "failed");
    EXPECT_EQ(b.exit_code, 1);
    EXPECT_EQ(b.error, "drift remains");
    EXPECT_EQ(b.resources, 12);
    EXPECT_EQ(b.changed, 1);
    EXPECT_EQ(b.failed, 0);
    EXPECT_EQ(b.drifted, 2);
    EXPECT_EQ(b.drift, (std::vector<std::string>{"file:/etc/motd", "service:nginx"}));
    EXPECT_EQ(b.facts_hash, "h1");
    EXPECT_EQ(b.facts, "");  // never read back with reports
}

TEST_P(HostReportContract, TheSameReportTwiceIsOneRowWithOneId) {
    auto first = record(report("web-1", "0000000000000001", 1000));
    auto again = record(report("web-1", "0000000000000001", 2000));
    EXPECT_TRUE(first.inserted);
    EXPECT_FALSE(again.inserted);
    EXPECT_EQ(again.id, first.id);
    auto back = store->host_reports("web-1", 10);
    ASSERT_TRUE(back);
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ((*back)[0].received_at, 1000);  // the retry changed nothing
    // Another run, or the same run of another commit or host, is another report.
    EXPECT_TRUE(record(report("web-1", "0000000000000002", 3000)).inserted);
    EXPECT_TRUE(record(report("web-1", "0000000000000001", 3000, std::string(40, 'b'))).inserted);
    EXPECT_TRUE(record(report("web-2", "0000000000000001", 3000)).inserted);
    EXPECT_EQ(runs_of("web-1").size(), 3u);
}

TEST_P(HostReportContract, ARetryDoesNotMakeAnOldReportTheLatest) {
    record(report("web-1", "0000000000000001", 1000));
    record(report("web-1", "0000000000000002", 2000));
    record(report("web-1", "0000000000000001", 3000));  // a late retry of the first
    auto latest = store->latest_reports();
    ASSERT_TRUE(latest);
    ASSERT_EQ(latest->size(), 1u);
    EXPECT_EQ((*latest)[0].run, "0000000000000002");
}

TEST_P(HostReportContract, ConnectionsRecordingTheSameReportAtOnceStoreItOnce) {
    constexpr int k_connections = 4;
    constexpr int k_reports = 20;
    std::vector<std::unique_ptr<Store>> stores;
    for (int i = 0; i < k_connections; ++i) {
        stores.push_back(reopen());
        ASSERT_TRUE(stores.back());
    }
    std::atomic<int> inserted{0};
    std::vector<std::set<int64_t>> ids(k_reports);
    std::vector<std::vector<int64_t>> seen(k_connections);
    auto work = [&](Store* s, int who) {
        for (int i = 0; i < k_reports; ++i) {
            auto got = s->record_report(
                report("web-1", "00000000000000" + std::to_string(10 + i), 1000 + i));
            ASSERT_TRUE(got) << got.error().message();
            inserted += got->inserted ? 1 : 0;
            seen[static_cast<size_t>(who)].push_back(got->id);
        }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < k_connections; ++i) {
        threads.emplace_back(work, stores[static_cast<size_t>(i)].get(), i);
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(inserted.load(), k_reports);
    EXPECT_EQ(runs_of("web-1").size(), static_cast<size_t>(k_reports));
    // Every connection got the same id for each report.
    for (int c = 1; c < k_connections; ++c) {
        EXPECT_EQ(seen[static_cast<size_t>(c)], seen[0]) << "connection " << c;
    }
}

TEST_P(HostReportContract, TheLatestReportOfEveryHostByName) {
    record(report("web-2", "0000000000000001", 1000));
    record(report("db-1", "0000000000000002", 1100));
    auto newer = report("web-2", "0000000000000003", 1200);
    newer.result = "converged";
    newer.exit_code = 0;
    newer.drifted = 0;
    newer.drift = {};
    newer.error = "";
    record(newer);
    auto latest = store->latest_reports();
    ASSERT_TRUE(latest) << latest.error().message();
    ASSERT_EQ(latest->size(), 2u);
    EXPECT_EQ((*latest)[0].host, "db-1");
    EXPECT_EQ((*latest)[1].host, "web-2");
    EXPECT_EQ((*latest)[1].run, "0000000000000003");
    EXPECT_EQ((*latest)[1].result, "converged");
    EXPECT_TRUE((*latest)[1].drift.empty());
}

TEST_P(HostReportContract, AHostsReportsAreNewestFirstAndLimited) {
    for (int i = 1; i <= 5; ++i) {
        record(report("web-1", "000000000000000" + std::to_string(i), 1000 * i));
    }
    record(report("web-2", "0000000000000009", 9000));
    EXPECT_EQ(runs_of("web-1", 3), (std::vector<std::string>{"0000000000000005", "0000000000000004",
                                                             "0000000000000003"}));
    EXPECT_EQ(runs_of("web-1").size(), 5u);
    EXPECT_TRUE(runs_of("nobody").empty());
}

TEST_P(HostReportContract, FactsAreKeptPerHostAndReplacedOnlyWhenTheyChange) {
    auto none = store->host_facts("web-1");
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
    auto a = report("web-1", "0000000000000001", 1000);
    a.facts = R"({"v":1})";
    a.facts_hash = "h1";
    record(a);
    auto b = report("web-1", "0000000000000002", 2000);  // the same facts: kept as they were
    b.facts = R"({"v":1})";
    b.facts_hash = "h1";
    record(b);
    auto f = store->host_facts("web-1");
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->facts, R"({"v":1})");
    EXPECT_EQ((*f)->received_at, 1000);
    auto c = report("web-1", "0000000000000003", 3000);  // no facts: the old ones stay
    record(c);
    f = store->host_facts("web-1");
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->facts_hash, "h1");
    auto d = report("web-1", "0000000000000004", 4000);  // changed facts replace them
    d.facts = R"({"v":2})";
    d.facts_hash = "h2";
    record(d);
    f = store->host_facts("web-1");
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->facts, R"({"v":2})");
    EXPECT_EQ((*f)->facts_hash, "h2");
    EXPECT_EQ((*f)->received_at, 4000);
}

TEST_P(HostReportContract, PruneDeletesOldReportsButEveryHostsLatest) {
    record(report("web-1", "0000000000000001", 1000));
    record(report("web-1", "0000000000000002", 2000));
    record(report("web-1", "0000000000000003", 5000));
    record(report("db-1", "0000000000000004", 1500));  // old, but db-1's latest
    auto pruned = store->prune_reports(3000);
    ASSERT_TRUE(pruned) << pruned.error().message();
    EXPECT_EQ(*pruned, 2);
    EXPECT_EQ(runs_of("web-1"), (std::vector<std::string>{"0000000000000003"}));
    EXPECT_EQ(runs_of("db-1"), (std::vector<std::string>{"0000000000000004"}));
    EXPECT_EQ(*store->prune_reports(3000), 0);
    auto latest = store->latest_reports();
    ASSERT_TRUE(latest);
    EXPECT_EQ(latest->size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, HostReportContract, ::testing::ValuesIn(contract::backends()),
                         [](const ::testing::TestParamInfo<contract::Backend>& param) {
                             return param.param.name;
                         });

}  // namespace
}  // namespace shipshape::store
