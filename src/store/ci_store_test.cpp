// The CI queue's contract (#19, store/ci.hpp), against every backend
// (store/testing/store_contract_test_fixture.hpp): pipelines are found by commit prefix, ref and
// status, newest first; claims take the oldest job the claimant has the labels for, hold it under
// a lease that only its holder may use, and re-claim it when the lease expires (until too many
// workers were lost); cancel, the derived pipeline status, pruning; and several connections
// claiming at once take every job exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/ci.hpp"
#include "store/store.hpp"
#include "store/testing/store_contract_test_fixture.hpp"

namespace shipshape::store {
namespace {

using contract::StoreContract;

class CiContract : public StoreContract {
  protected:
    static CiJob job(const std::string& name, std::vector<std::string> labels = {}) {
        CiJob j;
        j.name = name;
        j.definition = R"({"steps":["make test"]})";
        j.labels = std::move(labels);
        return j;
    }
    static CiPipeline pipeline(const std::string& commit, int64_t at, std::vector<CiJob> jobs,
                               const std::string& ref = "refs/heads/main") {
        CiPipeline p;
        p.repo = "/srv/git/app.git";
        p.ref = ref;
        p.commit = commit;
        p.source = "hook";
        p.created_at = at;
        p.jobs = std::move(jobs);
        return p;
    }
    static CiClaim claimant(const std::string& worker, int64_t now,
                            std::vector<std::string> labels = {}) {
        CiClaim c;
        c.worker = worker;
        c.labels = std::move(labels);
        c.now = now;
        c.lease_ms = 1000;
        return c;
    }
    int64_t enqueue(const CiPipeline& p) {
        auto id = store->enqueue_ci_pipeline(p);
        EXPECT_TRUE(id) << id.error().message();
        return id ? *id : 0;
    }
    // The claimed job's name, or "" when there was none.
    std::string claim_name(const CiClaim& c) {
        auto j = store->claim_ci_job(c);
        EXPECT_TRUE(j) << j.error().message();
        return j && *j ? (*j)->name : "";
    }
    std::string status_of(int64_t pipeline_id) {
        auto p = store->get_ci_pipeline(pipeline_id);
        EXPECT_TRUE(p) << p.error().message();
        return p ? p->status : "";
    }
    static CiFinish finish(const CiJob& j, const std::string& status, int64_t at) {
        return CiFinish{j.id, j.worker, status, "", status == "passed" ? "ok" : "step unit",
                        "{}", at};
    }
    // A filter on one field ("repo", "ref", "commit", "status"; "" for none).
    static CiFilter filter(const std::string& field, const std::string& value, int limit = 20) {
        CiFilter f;
        (field == "repo"     ? f.repo
         : field == "ref"    ? f.ref
         : field == "commit" ? f.commit
         : field == "status" ? f.status
                             : f.repo) = field.empty() ? "" : value;
        f.limit = limit;
        return f;
    }
    std::vector<int64_t> found(const CiFilter& f) {
        auto r = store->find_ci_pipelines(f);
        EXPECT_TRUE(r) << r.error().message();
        std::vector<int64_t> ids;
        for (const auto& p : r ? *r : std::vector<CiPipeline>{}) {
            ids.push_back(p.id);
        }
        return ids;
    }
};

TEST_P(CiContract, PipelinesRoundTripAndAreFoundNewestFirst) {
    const int64_t a = enqueue(pipeline("abcdef0123", 100, {job("build"), job("test", {"linux"})}));
    const int64_t b = enqueue(pipeline("abcd999999", 200, {job("build")}, "refs/heads/dev"));
    const int64_t c = enqueue(pipeline("0123456789", 300, {job("build")}));
    auto p = store->get_ci_pipeline(a);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->repo, "/srv/git/app.git");
    EXPECT_EQ(p->ref, "refs/heads/main");
    EXPECT_EQ(p->commit, "abcdef0123");
    EXPECT_EQ(p->source, "hook");
    EXPECT_EQ(p->status, "queued");
    EXPECT_EQ(p->created_at, 100);
    ASSERT_EQ(p->jobs.size(), 2u);
    EXPECT_EQ(p->jobs[0].name, "build");
    EXPECT_EQ(p->jobs[1].name, "test");
    EXPECT_EQ(p->jobs[1].labels, std::vector<std::string>{"linux"});
    EXPECT_EQ(p->jobs[1].definition, R"({"steps":["make test"]})");
    EXPECT_EQ(p->jobs[1].status, "queued");
    EXPECT_EQ(p->jobs[1].pipeline_id, a);
    EXPECT_EQ(p->jobs[1].queued_at, 100);
    auto j = store->get_ci_job(p->jobs[1].id);
    ASSERT_TRUE(j) << j.error().message();
    EXPECT_EQ(j->name, "test");
    EXPECT_EQ(store->get_ci_pipeline(9999).error().code(), Errc::not_found);
    EXPECT_EQ(store->get_ci_job(9999).error().code(), Errc::not_found);

    EXPECT_EQ(found({}), (std::vector<int64_t>{c, b, a}));
    EXPECT_EQ(found(filter("commit", "abcd")), (std::vector<int64_t>{b, a}));
    EXPECT_EQ(found(filter("commit", "abcde")), (std::vector<int64_t>{a}));
    EXPECT_EQ(found(filter("commit", "abcdef0123")), (std::vector<int64_t>{a}));
    EXPECT_EQ(found(filter("commit", "abc")), (std::vector<int64_t>{}));  // too short for a prefix
    EXPECT_EQ(found(filter("commit", "bcde")), (std::vector<int64_t>{}));
    EXPECT_EQ(found(filter("ref", "refs/heads/main")), (std::vector<int64_t>{c, a}));
    EXPECT_EQ(found(filter("repo", "/elsewhere")), (std::vector<int64_t>{}));
    EXPECT_EQ(found(filter("", "", 2)), (std::vector<int64_t>{c, b}));
    EXPECT_EQ(found(filter("status", "queued", 1)), (std::vector<int64_t>{c}));
    EXPECT_EQ(found(filter("status", "running")), (std::vector<int64_t>{}));
    auto all = store->find_ci_pipelines({});
    ASSERT_TRUE(all);
    EXPECT_EQ((*all)[2].jobs.size(), 2u);  // with their jobs
    EXPECT_EQ((*all)[1].jobs.size(), 1u);
}

TEST_P(CiContract, APipelineWithAReasonIsFailedWithoutJobs) {
    CiPipeline p = pipeline("abcdef0123", 100, {job("build")});
    p.reason = ".shipshape-ci.toml:3:1: unknown key 'stpes'";
    const int64_t id = enqueue(p);
    auto got = store->get_ci_pipeline(id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, "failed");
    EXPECT_EQ(got->reason, p.reason);
    EXPECT_TRUE(got->jobs.empty());
    EXPECT_EQ(claim_name(claimant("w", 200)), "");
    EXPECT_EQ(found(filter("status", "failed")), (std::vector<int64_t>{id}));
}

TEST_P(CiContract, ClaimsTakeTheOldestJobWhoseLabelsTheClaimantHas) {
    enqueue(pipeline("aaaa0000", 100, {job("gpu-test", {"linux", "gpu"}), job("unit")}));
    enqueue(pipeline("bbbb0000", 200, {job("lint", {"linux"})}));
    enqueue(pipeline("cccc0000", 250, {job("later")}));
    EXPECT_EQ(claim_name(claimant("plain", 300)), "unit");  // gpu-test needs labels it lacks
    EXPECT_EQ(claim_name(claimant("plain", 300)), "later");
    EXPECT_EQ(claim_name(claimant("plain", 300)), "");
    EXPECT_EQ(claim_name(claimant("linux", 300, {"linux"})), "lint");
    auto j = store->claim_ci_job(claimant("big", 300, {"gpu", "linux", "arm"}));
    ASSERT_TRUE(j && *j);
    EXPECT_EQ((*j)->name, "gpu-test");
    EXPECT_EQ((*j)->status, "running");
    EXPECT_EQ((*j)->worker, "big");
    EXPECT_EQ((*j)->attempts, 1);
    EXPECT_EQ((*j)->started_at, 300);
    EXPECT_EQ((*j)->lease_until, 1300);
    EXPECT_EQ(claim_name(claimant("big", 300, {"gpu", "linux"})), "");
}

// Claims read candidates in batches: one that fits is found behind many that do not.
TEST_P(CiContract, AJobThatFitsIsFoundBehindManyThatDoNot) {
    std::vector<CiJob> gpu;
    gpu.reserve(100);
    for (int i = 0; i < 100; ++i) {
        gpu.push_back(job("gpu" + std::to_string(i), {"gpu"}));
    }
    enqueue(pipeline("aaaa0000", 100, gpu));
    enqueue(pipeline("bbbb0000", 200, {job("plain")}));
    EXPECT_EQ(claim_name(claimant("w", 300)), "plain");
    EXPECT_EQ(claim_name(claimant("w", 300)), "");
}

TEST_P(CiContract, OnlyTheHolderUsesTheLeaseAndAnExpiredOneIsTakenOver) {
    const int64_t pid = enqueue(pipeline("aaaa0000", 100, {job("unit")}));
    auto first = store->claim_ci_job(claimant("w1", 1000));
    ASSERT_TRUE(first && *first);
    const CiJob held = **first;
    // Held: nobody else gets it, before the lease's end.
    EXPECT_EQ(claim_name(claimant("w2", 1500)), "");
    EXPECT_EQ(claim_name(claimant("w2", 2000)), "");
    auto renewed = store->renew_ci_lease(held.id, "w1", 3000);
    ASSERT_TRUE(renewed);
    EXPECT_TRUE(renewed->held);
    EXPECT_FALSE(renewed->cancel_requested);
    EXPECT_EQ(claim_name(claimant("w2", 2500)), "");
    EXPECT_FALSE(store->renew_ci_lease(held.id, "w2", 9000)->held);
    EXPECT_EQ(store->set_ci_job_run(held.id, "w2", "run-x").error().code(), Errc::conflict);
    ASSERT_TRUE(store->set_ci_job_run(held.id, "w1", "run-1"));
    EXPECT_EQ(store->get_ci_job(held.id)->run_id, "run-1");
    // Expired: taken over, attempts + 1; the old holder can do nothing more.
    auto second = store->claim_ci_job(claimant("w2", 3001));
    ASSERT_TRUE(second && *second);
    EXPECT_EQ((*second)->id, held.id);
    EXPECT_EQ((*second)->worker, "w2");
    EXPECT_EQ((*second)->attempts, 2);
    EXPECT_EQ((*second)->started_at, 3001);
    EXPECT_FALSE(store->renew_ci_lease(held.id, "w1", 9000)->held);
    EXPECT_EQ(store->set_ci_job_run(held.id, "w1", "run-old").error().code(), Errc::conflict);
    auto late = store->finish_ci_job(finish(held, "passed", 3100));
    ASSERT_TRUE(late);
    EXPECT_FALSE(*late);
    EXPECT_EQ(store->get_ci_job(held.id)->status, "running");
    EXPECT_EQ(status_of(pid), "running");
    auto done = store->finish_ci_job(finish(**second, "passed", 3200));
    ASSERT_TRUE(done);
    EXPECT_TRUE(*done);
    auto after = store->get_ci_job(held.id);
    EXPECT_EQ(after->status, "passed");
    EXPECT_EQ(after->detail, "ok");
    EXPECT_EQ(after->results, "{}");
    EXPECT_EQ(after->finished_at, 3200);
    EXPECT_EQ(status_of(pid), "passed");
    // An ended job is held by nobody.
    EXPECT_FALSE(store->renew_ci_lease(held.id, "w2", 9000)->held);
    EXPECT_FALSE(*store->finish_ci_job(finish(**second, "failed", 3300)));
    EXPECT_EQ(claim_name(claimant("w3", 99999)), "");
}

TEST_P(CiContract, AJobWhoseWorkersAreLostTooOftenFailsAndIsNotHandedOutAgain) {
    const int64_t pid = enqueue(pipeline("aaaa0000", 100, {job("unit")}));
    int64_t now = 1000;
    for (int attempt = 1; attempt <= 3; ++attempt) {
        auto j = store->claim_ci_job(claimant("w" + std::to_string(attempt), now));
        ASSERT_TRUE(j && *j) << "attempt " << attempt;
        EXPECT_EQ((*j)->attempts, attempt);
        now += 2000;  // the lease (1000 ms) expires: the worker died
    }
    EXPECT_EQ(claim_name(claimant("w4", now)), "");
    auto p = store->get_ci_pipeline(pid);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->jobs[0].status, "failed");
    EXPECT_EQ(p->jobs[0].detail, "its worker was lost 3 times");
    EXPECT_EQ(p->jobs[0].finished_at, now);
    EXPECT_EQ(p->status, "failed");
    EXPECT_EQ(claim_name(claimant("w5", now + 100000)), "");
}

TEST_P(CiContract, CancelEndsQueuedJobsAndAsksRunningOnesToStop) {
    const int64_t pid = enqueue(pipeline("aaaa0000", 100, {job("a"), job("b"), job("c")}));
    auto a = store->claim_ci_job(claimant("w", 200));
    ASSERT_TRUE(a && *a);
    EXPECT_EQ(status_of(pid), "running");
    auto one = store->cancel_ci(pid, "b", 300);
    ASSERT_TRUE(one) << one.error().message();
    EXPECT_EQ(*one, 1);
    EXPECT_EQ(store->get_ci_pipeline(pid)->jobs[1].status, "cancelled");
    EXPECT_EQ(store->cancel_ci(pid, "nope", 300).error().code(), Errc::not_found);
    EXPECT_EQ(store->cancel_ci(9999, "", 300).error().code(), Errc::not_found);
    auto rest = store->cancel_ci(pid, "", 400);
    ASSERT_TRUE(rest);
    EXPECT_EQ(*rest, 2);                             // c cancelled, a asked to stop
    EXPECT_EQ(claim_name(claimant("w2", 500)), "");  // cancelled jobs are never handed out
    auto lease = store->renew_ci_lease((*a)->id, "w", 2000);
    ASSERT_TRUE(lease);
    EXPECT_TRUE(lease->held);
    EXPECT_TRUE(lease->cancel_requested);
    EXPECT_EQ(status_of(pid), "running");
    EXPECT_EQ(*store->cancel_ci(pid, "", 450), 0);  // nothing left to change
    ASSERT_TRUE(*store->finish_ci_job(finish(**a, "cancelled", 600)));
    EXPECT_EQ(status_of(pid), "cancelled");
}

TEST_P(CiContract, AJobAskedToStopWhoseWorkerIsLostIsCancelledNotHandedOut) {
    const int64_t pid = enqueue(pipeline("aaaa0000", 100, {job("a")}));
    ASSERT_TRUE(*store->claim_ci_job(claimant("w", 200)));
    ASSERT_EQ(*store->cancel_ci(pid, "", 300), 1);
    EXPECT_EQ(claim_name(claimant("w2", 5000)), "");
    EXPECT_EQ(status_of(pid), "cancelled");
    EXPECT_EQ(store->get_ci_pipeline(pid)->jobs[0].detail,
              "cancelled, and its worker was lost 1 time");
}

TEST_P(CiContract, PipelinesWithUnnamedTwinOrBadlyLabelledJobsAreRefused) {
    for (const auto& jobs : std::vector<std::vector<CiJob>>{
             {job("")}, {job("a"), job("a")}, {job("a", {"x,y"})}, {job("a", {""})}}) {
        auto r = store->enqueue_ci_pipeline(pipeline("aaaa0000", 100, jobs));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), Errc::invalid_argument) << r.error().message();
    }
    EXPECT_EQ(found({}), (std::vector<int64_t>{}));
}

TEST_P(CiContract, ThePipelineStatusFollowsEveryChangeOfItsJobs) {
    const int64_t pid = enqueue(pipeline("aaaa0000", 100, {job("a"), job("b")}));
    EXPECT_EQ(status_of(pid), "queued");
    auto a = store->claim_ci_job(claimant("w", 200));
    ASSERT_TRUE(a && *a);
    EXPECT_EQ(status_of(pid), "running");
    ASSERT_TRUE(*store->finish_ci_job(finish(**a, "failed", 300)));
    EXPECT_EQ(status_of(pid), "running");  // b still waits
    EXPECT_EQ(store->get_ci_pipeline(pid)->updated_at, 300);
    auto b = store->claim_ci_job(claimant("w", 400));
    ASSERT_TRUE(b && *b);
    ASSERT_TRUE(*store->finish_ci_job(finish(**b, "passed", 500)));
    EXPECT_EQ(status_of(pid), "failed");
    EXPECT_EQ(found(filter("status", "failed")), (std::vector<int64_t>{pid}));

    const int64_t ok = enqueue(pipeline("bbbb0000", 600, {job("a")}));
    auto c = store->claim_ci_job(claimant("w", 700));
    ASSERT_TRUE(c && *c);
    ASSERT_TRUE(*store->finish_ci_job(finish(**c, "passed", 800)));
    EXPECT_EQ(status_of(ok), "passed");
    EXPECT_EQ(store->finish_ci_job(finish(**c, "running", 900)).error().code(),
              Errc::invalid_argument);
}

TEST_P(CiContract, PruneRemovesOnlyPipelinesThatEndedBeforeTheTime) {
    auto run_to_end = [&](int64_t at) {
        auto j = store->claim_ci_job(claimant("w", at));
        ASSERT_TRUE(j && *j);
        ASSERT_TRUE(*store->finish_ci_job(finish(**j, "passed", at + 10)));
    };
    const int64_t old_done = enqueue(pipeline("aaaa0000", 100, {job("a"), job("b")}));
    run_to_end(110);
    run_to_end(120);  // ended at 130
    CiPipeline bad = pipeline("bbbb0000", 140, {});
    bad.reason = "x:1:1: bad";
    const int64_t old_failed = enqueue(bad);
    const int64_t old_queued = enqueue(pipeline("cccc0000", 150, {job("a")}));
    const int64_t old_running = enqueue(pipeline("dddd0000", 160, {job("a"), job("b")}));
    ASSERT_TRUE(*store->claim_ci_job(claimant("w", 170)));  // takes old_queued's job
    run_to_end(180);  // old_running's first job; its second still waits
    const int64_t new_done = enqueue(pipeline("eeee0000", 5000, {job("a")}));
    run_to_end(5010);
    auto pruned = store->prune_ci(1000);
    ASSERT_TRUE(pruned) << pruned.error().message();
    ASSERT_EQ(pruned->size(), 2u);
    EXPECT_EQ((*pruned)[0].id, old_done);
    EXPECT_EQ((*pruned)[0].jobs.size(), 2u);
    EXPECT_EQ((*pruned)[1].id, old_failed);
    EXPECT_EQ(store->get_ci_pipeline(old_done).error().code(), Errc::not_found);
    EXPECT_EQ(store->get_ci_job((*pruned)[0].jobs[0].id).error().code(), Errc::not_found);
    EXPECT_EQ(found({}), (std::vector<int64_t>{new_done, old_running, old_queued}));
    EXPECT_TRUE(store->prune_ci(1000)->empty());
}

// Every connection claims and finishes until all jobs are done: each job is claimed exactly once.
TEST_P(CiContract, ConnectionsClaimingAtOnceTakeEveryJobExactlyOnce) {
    constexpr int k_jobs = 40;
    const int k_connections = GetParam().name == "postgres" ? 4 : 2;
    // Pipelines of two jobs, claimed one after the other by different connections and finished
    // at about the same time: finishers of one pipeline's jobs race on its status too.
    std::vector<int64_t> pipelines;
    for (int i = 0; i < k_jobs / 2; ++i) {
        pipelines.push_back(
            enqueue(pipeline("aaaa000" + std::to_string(i), 100 + i,
                             {job("a" + std::to_string(i)), job("b" + std::to_string(i))})));
    }
    std::vector<std::unique_ptr<Store>> stores;
    for (int i = 0; i < k_connections; ++i) {
        stores.push_back(reopen());
        ASSERT_TRUE(stores.back());
    }
    std::mutex mu;
    std::map<int64_t, int> claims;
    std::atomic<int> done{0};
    auto work = [&](Store* s, const std::string& who) {
        while (done.load() < k_jobs) {
            auto j = s->claim_ci_job(claimant(who, 1000));
            ASSERT_TRUE(j) << j.error().message();
            if (!*j) {
                std::this_thread::yield();
                continue;
            }
            {
                std::lock_guard<std::mutex> lock(mu);
                ++claims[(*j)->id];
            }
            auto f = s->finish_ci_job(finish(**j, "passed", 2000));
            ASSERT_TRUE(f) << f.error().message();
            ASSERT_TRUE(*f);
            ++done;
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(stores.size());
    for (size_t i = 0; i < stores.size(); ++i) {
        threads.emplace_back(work, stores[i].get(), "w" + std::to_string(i));
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(claims.size(), static_cast<size_t>(k_jobs));
    for (const auto& [id, n] : claims) {
        EXPECT_EQ(n, 1) << "job " << id;
    }
    for (const int64_t id : pipelines) {
        EXPECT_EQ(status_of(id), "passed") << "pipeline " << id;
    }
}

// Two connections finish the two jobs of one pipeline at the same moment: the pipeline's status
// is derived from both (neither derives it from a snapshot without the other's job).
TEST_P(CiContract, TwoFinishersOfOnePipelineAtOnceLeaveItsStatusRight) {
    auto first = reopen();
    auto second = reopen();
    ASSERT_TRUE(first && second);
    for (int round = 0; round < 20; ++round) {
        const int64_t pid = enqueue(pipeline("aaaa0000", round, {job("a"), job("b")}));
        auto a = first->claim_ci_job(claimant("w1", 1000));
        auto b = second->claim_ci_job(claimant("w2", 1000));
        ASSERT_TRUE(a && *a && b && *b);
        std::atomic<int> ready{0};
        auto finish_at_once = [&](Store* s, const CiJob& j) {
            ++ready;
            while (ready.load() < 2) {
            }
            auto f = s->finish_ci_job(finish(j, "passed", 2000));
            ASSERT_TRUE(f) << f.error().message();
            EXPECT_TRUE(*f);
        };
        std::thread ta(finish_at_once, first.get(), **a);
        std::thread tb(finish_at_once, second.get(), **b);
        ta.join();
        tb.join();
        ASSERT_EQ(status_of(pid), "passed") << "round " << round;
    }
}

TEST_P(CiContract, AWaitingWorkerWakesForAnEnqueue) {
    // The first wait may return at once (PostgreSQL starts listening then).
    ASSERT_TRUE(store->wait_for_ci_work(std::chrono::milliseconds(0)));
    auto other = reopen();
    ASSERT_TRUE(other);
    // SQLite polls (k_ci_poll); PostgreSQL must be woken by the enqueue's NOTIFY, long before
    // its timeout.
    const auto timeout = std::chrono::seconds(GetParam().name == "postgres" ? 60 : 0);
    const auto start = std::chrono::steady_clock::now();
    std::thread waiter([&] { ASSERT_TRUE(store->wait_for_ci_work(timeout)); });
    ASSERT_TRUE(other->enqueue_ci_pipeline(pipeline("aaaa0000", 100, {job("a")})));
    waiter.join();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

INSTANTIATE_TEST_SUITE_P(Backends, CiContract, ::testing::ValuesIn(contract::backends()),
                         [](const ::testing::TestParamInfo<contract::Backend>& param) {
                             return param.param.name;
                         });

}  // namespace
}  // namespace shipshape::store
