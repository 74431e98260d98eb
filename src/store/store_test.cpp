// The store contract, one suite run against every backend in k_backends: SQLite, and PostgreSQL
// on a server the test starts itself (store/testing/postgres_server.hpp; one per test process,
// a fresh database per test). Backend-specific behaviour (schema migrations of one database
// engine) is tested beside the backend.
#include "store/store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

#include "core/testing/skip.hpp"
#include "store/copy.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/testing/store_contract_test_fixture.hpp"

namespace shipshape::store {
namespace {

// The fixture (StoreContract) and the backends it runs on:
// store/testing/store_contract_test_fixture.hpp, shared with the audit ledger's contract
// (audit_store_test.cpp).
using contract::Backend;
using contract::backends;
using contract::StoreContract;

[[maybe_unused]] const auto* const k_postgres_environment =
    ::testing::AddGlobalTestEnvironment(new contract::PostgresEnvironment);

const auto k_never_stale = [](const LockHolder&) { return false; };
const auto k_always_stale = [](const LockHolder&) { return true; };

TEST_P(StoreContract, RunsRoundTripAndSurviveReopen) {
    ASSERT_TRUE(store->create_run(run("r1", 1000)));
    ASSERT_TRUE(store->create_run(run("r2", 2000)));
    auto dup = store->create_run(run("r1"));
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), Errc::already_exists);
    store = reopen();
    ASSERT_TRUE(store);
    auto r = store->get_run("r1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->params,
              (std::vector<std::pair<std::string, std::string>>{{"version", "1.4.2"}, {"a", "b"}}));
    auto list = store->list_runs(10);
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].id, "r2");  // newest first
    auto missing = store->get_run("nope");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
    EXPECT_EQ(missing.error().message(), "no run 'nope' (see 'shipshape runs')");
}

TEST_P(StoreContract, ListRunsFiltersByEnvChecklistAndStatusInTheDatabase) {
    auto make = [](const std::string& id, int64_t at, const std::string& env,
                   const std::string& checklist, const std::string& status) {
        RunRecord r = run(id, at);
        r.env = env;
        r.checklist_name = checklist;
        r.status = status;
        return r;
    };
    ASSERT_TRUE(store->create_run(make("a", 1000, "prod", "deploy", "done")));
    ASSERT_TRUE(store->create_run(make("b", 2000, "staging", "deploy", "failed")));
    ASSERT_TRUE(store->create_run(make("c", 3000, "prod", "backup", "done")));
    ASSERT_TRUE(store->create_run(make("d", 4000, "prod", "deploy", "waiting")));
    // A value with SQL in it is a value: it matches nothing and breaks nothing.
    ASSERT_TRUE(store->create_run(make("e", 5000, "x' OR '1'='1", "deploy", "done")));
    auto ids = [&](const RunFilter& f) {
        std::vector<std::string> out;
        auto runs = store->list_runs(f);
        EXPECT_TRUE(runs) << runs.error().message();
        if (runs) {
            for (const auto& r : *runs) {
                out.push_back(r.id);
            }
        }
        return out;
    };
    using Ids = std::vector<std::string>;
    RunFilter f;
    EXPECT_EQ(ids(f), (Ids{"e", "d", "c", "b", "a"}));  // empty filter: every run, newest first
    f.env = "prod";
    EXPECT_EQ(ids(f), (Ids{"d", "c", "a"}));
    f.checklist = "deploy";
    EXPECT_EQ(ids(f), (Ids{"d", "a"}));  // conditions combine
    f.status = "done";
    EXPECT_EQ(ids(f), (Ids{"a"}));
    f = RunFilter{};
    f.status = "done";
    f.limit = 2;
    EXPECT_EQ(ids(f), (Ids{"e", "c"}));  // the limit counts matching runs
    f = RunFilter{};
    f.env = "x' OR '1'='1";
    EXPECT_EQ(ids(f), (Ids{"e"}));
    f.env = "prod' OR '1'='1";
    EXPECT_EQ(ids(f), Ids{});
    f = RunFilter{};
    f.checklist = "backup";
    auto runs = store->list_runs(f);
    ASSERT_TRUE(runs && runs->size() == 1u);
    EXPECT_EQ((*runs)[0].params,
              (std::vector<std::pair<std::string, std::string>>{{"version", "1.4.2"}, {"a", "b"}}));
    EXPECT_FALSE((*runs)[0].checklist_text.empty());
    // A brief list has the same runs and fields, without the checklist's text and params.
    f.brief = true;
    auto brief = store->list_runs(f);
    ASSERT_TRUE(brief && brief->size() == 1u);
    EXPECT_EQ((*brief)[0].id, (*runs)[0].id);
    EXPECT_EQ((*brief)[0].status, (*runs)[0].status);
    EXPECT_EQ((*brief)[0].started_at, (*runs)[0].started_at);
    EXPECT_TRUE((*brief)[0].checklist_text.empty());
    EXPECT_TRUE((*brief)[0].params.empty());
}

TEST_P(StoreContract, UpdatingARunAppendsAnEventAndUnknownRunsAreNotFound) {
    ASSERT_TRUE(store->create_run(run("r")));
    ASSERT_TRUE(store->update_run("r", "done", 0, 2000));
    EXPECT_EQ(store->get_run("r")->status, "done");
    auto events = store->get_events("r");
    ASSERT_TRUE(events);
    ASSERT_EQ(events->size(), 2u);
    EXPECT_EQ((*events)[1].kind, "run-done");
    auto missing = store->update_run("nope", "done", 0, 1);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
}

TEST_P(StoreContract, FinishedStepsAreNumberedInCompletionOrder) {
    ASSERT_TRUE(store->create_run(run("r")));
    for (const char* id : {"b", "a", "c"}) {
        StepRecord s;
        s.run_id = "r";
        s.step_id = id;
        s.state = "ok";
        s.finish_seq = -1;
        ASSERT_TRUE(store->record_step(s, Event{0, 1, "r", id, "step-finished", "ok"}));
    }
    auto steps = store->get_steps("r");
    ASSERT_TRUE(steps);
    std::map<std::string, int64_t> seq;
    for (const auto& s : *steps) {
        seq[s.step_id] = s.finish_seq;
    }
    EXPECT_EQ(seq["b"], 1);
    EXPECT_EQ(seq["a"], 2);
    EXPECT_EQ(seq["c"], 3);
    auto events = store->get_events("r");
    ASSERT_TRUE(events);
    EXPECT_EQ(events->size(), 4u);  // run-started + three
}

TEST_P(StoreContract, CheckOffMarksTheStep) {
    ASSERT_TRUE(store->create_run(run("r")));
    ASSERT_TRUE(store->add_check_off(CheckOff{"r", "qa-ok", "qa", "alice", "looks good", 5}));
    auto steps = store->get_steps("r");
    ASSERT_EQ(steps->size(), 1u);
    EXPECT_EQ((*steps)[0].state, "checked-off");
    auto offs = store->get_check_offs("r");
    ASSERT_EQ(offs->size(), 1u);
    EXPECT_EQ((*offs)[0].by, "alice");
    EXPECT_EQ((*offs)[0].note, "looks good");
}

TEST_P(StoreContract, EnvironmentLockIsExclusiveUntilStaleOrReleased) {
    LockHolder a{"prod", "run-a", 100, 7, "h", 1, "ops"};
    LockHolder b{"prod", "run-b", 200, 8, "h", 2, "ops"};
    auto first = store->acquire_env_lock(a, k_never_stale);
    ASSERT_TRUE(first && first->acquired);
    auto second = store->acquire_env_lock(b, k_never_stale);
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->acquired);
    ASSERT_TRUE(second->holder);
    EXPECT_EQ(second->holder->run_id, "run-a");
    EXPECT_EQ(second->holder->pid, 100);
    EXPECT_EQ(second->holder->pid_start_ticks, 7u);
    EXPECT_EQ(second->holder->host, "h");
    // Other environments are independent.
    LockHolder c{"staging", "run-c", 300, 9, "h", 3, "ops"};
    EXPECT_TRUE(store->acquire_env_lock(c, k_never_stale)->acquired);
    // A dead holder is taken over, and reported.
    auto takeover = store->acquire_env_lock(b, k_always_stale);
    ASSERT_TRUE(takeover && takeover->acquired);
    EXPECT_EQ(takeover->holder->run_id, "run-a");
    // Release by a non-holder does nothing; by the holder frees it.
    ASSERT_TRUE(store->release_env_lock("prod", "run-a"));
    EXPECT_FALSE(store->acquire_env_lock(a, k_never_stale)->acquired);
    ASSERT_TRUE(store->release_env_lock("prod", "run-b"));
    EXPECT_TRUE(store->acquire_env_lock(a, k_never_stale)->acquired);
}

TEST_P(StoreContract, TheStalenessCheckSeesTheRecordedHolder) {
    LockHolder a{"prod", "run-a", 100, 7, "other-host", 1, "alice"};
    ASSERT_TRUE(store->acquire_env_lock(a, k_never_stale)->acquired);
    LockHolder b{"prod", "run-b", 200, 8, "h", 2, "ops"};
    std::optional<LockHolder> seen;
    auto r = store->acquire_env_lock(b, [&](const LockHolder& h) {
        seen = h;
        return false;
    });
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->acquired);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->run_id, "run-a");
    EXPECT_EQ(seen->pid, 100);
    EXPECT_EQ(seen->pid_start_ticks, 7u);
    EXPECT_EQ(seen->host, "other-host");
    EXPECT_EQ(seen->started_at, 1);
    EXPECT_EQ(seen->user, "alice");
    EXPECT_EQ(r->holder->user, "alice");
}

TEST_P(StoreContract, TheSameRunIsLockedOutWhileItsHolderLives) {
    LockHolder first{"prod", "run-a", 100, 7, "h", 1, "ops"};
    LockHolder resumed_elsewhere{"prod", "run-a", 200, 8, "h", 2, "ops"};
    ASSERT_TRUE(store->acquire_env_lock(first, k_never_stale)->acquired);
    auto second = store->acquire_env_lock(resumed_elsewhere, k_never_stale);
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->acquired);
    // The holder itself may take it again (resume within one process).
    EXPECT_TRUE(store->acquire_env_lock(first, k_never_stale)->acquired);
}

// Two connections (as two processes would have) race for one lock from two threads, released
// together by a barrier, many times over: exactly one acquires each round.
TEST_P(StoreContract, OfTwoConcurrentAcquiresExactlyOneWins) {
    auto second = reopen();
    ASSERT_TRUE(second);
    Store* stores[2] = {store.get(), second.get()};
    constexpr int k_rounds = 20;
    std::barrier sync(2);
    std::atomic<int> failures{0};
    int wins[k_rounds][2] = {};
    auto contender = [&](int who) {
        for (int round = 0; round < k_rounds; ++round) {
            LockHolder me{"prod-" + std::to_string(round),
                          "run-" + std::to_string(who),
                          1000 + who,
                          1,
                          "h",
                          round,
                          "ops"};
            sync.arrive_and_wait();
            auto r = stores[who]->acquire_env_lock(me, k_never_stale);
            if (!r) {
                ++failures;
            } else {
                wins[round][who] = r->acquired ? 1 : 0;
            }
        }
    };
    std::thread t0(contender, 0);
    std::thread t1(contender, 1);
    t0.join();
    t1.join();
    EXPECT_EQ(failures.load(), 0);
    for (int round = 0; round < k_rounds; ++round) {
        EXPECT_EQ(wins[round][0] + wins[round][1], 1) << "round " << round;
    }
}

TEST_P(StoreContract, FactsSnapshotsRoundTrip) {
    auto a = store->save_facts(FactsSnapshot{0, "web1", 10, "h1", "{\"host\":\"web1\"}"});
    auto b = store->save_facts(FactsSnapshot{0, "web2", 20, "h2", "{}"});
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
    auto got = store->get_facts(*a);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->document, "{\"host\":\"web1\"}");
    auto all = store->list_facts("", 10);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].host, "web2");
    EXPECT_EQ(store->list_facts("web1", 10)->size(), 1u);
    EXPECT_EQ(store->get_facts(999).error().code(), Errc::not_found);
}

TEST_P(StoreContract, TheNewestHostStateReportWins) {
    EXPECT_FALSE(*store->latest_host_state("web1"));
    ASSERT_TRUE(store->save_host_state(FactsSnapshot{0, "web1", 10, "a", "old"}));
    ASSERT_TRUE(store->save_host_state(FactsSnapshot{0, "web1", 20, "b", "new"}));
    ASSERT_TRUE(store->save_host_state(FactsSnapshot{0, "web2", 30, "c", "other"}));
    auto latest = store->latest_host_state("web1");
    ASSERT_TRUE(latest && *latest);
    EXPECT_EQ((*latest)->document, "new");
}

TEST_P(StoreContract, AppliedParamsAreReplacedPerHost) {
    EXPECT_FALSE(*store->applied_params("web1"));
    ASSERT_TRUE(store->save_applied_params({"web1", 10, {{"version", "1.0"}, {"a", "b"}}}));
    ASSERT_TRUE(store->save_applied_params({"web2", 10, {{"version", "0.9"}}}));
    ASSERT_TRUE(store->save_applied_params({"web1", 20, {{"version", "1.1"}}}));
    store = reopen();
    ASSERT_TRUE(store);
    auto got = store->applied_params("web1");
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->at, 20);
    EXPECT_EQ((*got)->params,
              (std::vector<std::pair<std::string, std::string>>{{"version", "1.1"}}));
    EXPECT_EQ((*store->applied_params("web2"))->params.front().second, "0.9");
    // An apply without parameters is recorded as such, not as "nothing known".
    ASSERT_TRUE(store->save_applied_params({"web2", 30, {}}));
    auto empty = store->applied_params("web2");
    ASSERT_TRUE(empty && *empty);
    EXPECT_TRUE((*empty)->params.empty());
}

TEST_P(StoreContract, UsersRoundTripWithTheirRolesAndNamesAreUnique) {
    ASSERT_TRUE(store->create_user(UserRecord{"bob", {"dev"}, 10}));
    ASSERT_TRUE(store->create_user(UserRecord{"alice", {"dev", "qa"}, 20}));
    ASSERT_TRUE(store->create_user(UserRecord{"carol", {}, 30}));
    auto dup = store->create_user(UserRecord{"alice", {"ops"}, 40});
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), Errc::already_exists);
    EXPECT_EQ(dup.error().message(), "user 'alice' already exists");
    store = reopen();
    ASSERT_TRUE(store);
    auto alice = store->get_user("alice");
    ASSERT_TRUE(alice) << alice.error().message();
    EXPECT_EQ(alice->roles, (std::vector<std::string>{"dev", "qa"}));  // the first one kept
    EXPECT_EQ(alice->created_at, 20);
    EXPECT_TRUE(store->get_user("carol")->roles.empty());
    auto users = store->list_users();
    ASSERT_TRUE(users);
    ASSERT_EQ(users->size(), 3u);
    EXPECT_EQ((*users)[0].name, "alice");  // by name
    EXPECT_EQ((*users)[2].name, "carol");
    ASSERT_TRUE(store->set_roles("bob", {"ops", "qa"}));
    EXPECT_EQ(store->get_user("bob")->roles, (std::vector<std::string>{"ops", "qa"}));
    auto missing = store->set_roles("nobody", {"qa"});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
    EXPECT_EQ(store->get_user("nobody").error().message(), "no user 'nobody'");
}

TEST_P(StoreContract, TokensAreFoundByIdStampedAndRevokedPerUser) {
    ASSERT_TRUE(store->create_user(UserRecord{"alice", {"qa"}, 1}));
    ASSERT_TRUE(store->create_user(UserRecord{"bob", {"dev"}, 1}));
    ASSERT_TRUE(store->add_token(TokenRecord{"t1", "alice", "s1", "h1", 100, {}, false}));
    ASSERT_TRUE(store->add_token(TokenRecord{"t2", "alice", "s2", "h2", 200, {}, false}));
    ASSERT_TRUE(store->add_token(TokenRecord{"t3", "bob", "s3", "h3", 300, {}, false}));
    auto dup = store->add_token(TokenRecord{"t1", "bob", "s", "h", 1, {}, false});
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), Errc::already_exists);
    auto orphan = store->add_token(TokenRecord{"t9", "nobody", "s", "h", 1, {}, false});
    ASSERT_FALSE(orphan);
    EXPECT_EQ(orphan.error().code(), Errc::not_found);
    EXPECT_EQ(store->get_token("t9").error().code(), Errc::not_found);

    auto t1 = store->get_token("t1");
    ASSERT_TRUE(t1) << t1.error().message();
    EXPECT_EQ(t1->user, "alice");
    EXPECT_EQ(t1->salt, "s1");
    EXPECT_EQ(t1->hash, "h1");
    EXPECT_EQ(t1->created_at, 100);
    EXPECT_FALSE(t1->last_used_at);
    EXPECT_FALSE(t1->revoked);
    ASSERT_TRUE(store->touch_token("t1", 555));
    store = reopen();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->get_token("t1")->last_used_at, std::optional<int64_t>(555));

    auto revoked = store->revoke_tokens("alice");
    ASSERT_TRUE(revoked);
    EXPECT_EQ(*revoked, 2);
    EXPECT_EQ(*store->revoke_tokens("alice"), 0);  // nothing left to revoke
    EXPECT_TRUE(store->get_token("t2")->revoked);
    EXPECT_FALSE(store->get_token("t3")->revoked);  // another user's tokens are untouched
    EXPECT_EQ(store->revoke_tokens("nobody").error().code(), Errc::not_found);
    auto listed = store->list_tokens("alice");
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[0].id, "t1");  // oldest first
    EXPECT_TRUE((*listed)[1].revoked);
    EXPECT_TRUE(store->list_tokens("nobody")->empty());
}

TEST_P(StoreContract, CopyIntoThisBackendIsCompleteAndIdempotent) {
    // The source: a SQLite store with a run (params, steps, a check-off, events), facts, state
    // reports and applied params.
    auto source = open_store("sqlite:" + dir + "/source.db");
    ASSERT_TRUE(source) << source.error().message();
    Store& src = **source;
    ASSERT_TRUE(src.create_run(run("old", 1000)));
    ASSERT_TRUE(
        src.record_step(StepRecord{"old", "build", "done", 1, 0, "ok", 1001, 1002, 1, -1, ""},
                        Event{0, 1002, "old", "build", "step-finished", "exit 0"}));
    ASSERT_TRUE(src.add_check_off(CheckOff{"old", "qa", "qa", "alice", "fine", 1003}));
    ASSERT_TRUE(src.append_log_lines({LogLine{0, 1001, "old", "build", "compiling"},
                                      LogLine{0, 1002, "old", "build", "done 'ok'"}}));
    ASSERT_TRUE(src.update_run("old", "done", 0, 1004));
    ASSERT_TRUE(src.create_run(run("new", 2000)));
    ASSERT_TRUE(src.save_facts({0, "web1", 10, "h1", R"({"os":"debian"})"}));
    ASSERT_TRUE(src.save_facts({0, "web1", 20, "h2", R"({"os":"debian 12"})"}));
    ASSERT_TRUE(src.save_host_state({0, "web1", 30, "s1", R"({"drift":0})"}));
    ASSERT_TRUE(src.save_applied_params({"web1", 40, {{"version", "1.0"}}}));
    // The target already has the run "new" (from an earlier copy, say) and newer params.
    ASSERT_TRUE(store->create_run(run("new", 2000)));
    ASSERT_TRUE(store->save_applied_params({"web1", 50, {{"version", "2.0"}}}));

    std::vector<std::string> progress;
    auto copied = copy_store(src, *store, [&](std::string_view part, int64_t done, int64_t total) {
        progress.push_back(std::string(part) + " " + std::to_string(done) + "/" +
                           std::to_string(total));
    });
    ASSERT_TRUE(copied) << copied.error().message();
    auto summary = [](const std::vector<CopyCounts>& counts) {
        std::string out;
        for (const auto& c : counts) {
            out += c.part + ": " + std::to_string(c.copied) + " copied, " +
                   std::to_string(c.skipped) + " skipped; ";
        }
        return out;
    };
    EXPECT_EQ(summary(*copied),
              "runs: 1 copied, 1 skipped; facts snapshots: 2 copied, 0 skipped; state reports: 1 "
              "copied, 0 skipped; applied params: 0 copied, 1 skipped; audit entries: 0 copied, 0 "
              "skipped; ");
    // The target's ledger has an entry of its own (run "new" started there): the source's
    // cannot be appended (audit_store_test.cpp tests the ledger's copy).
    EXPECT_FALSE(copied->back().note.empty());
    EXPECT_EQ(progress.front(), "runs 1/2");
    EXPECT_EQ(progress.back(), "applied params 1/1");
    // The run arrived as it was: status, times, params, steps with their finish_seq, the
    // check-off, and the same events with their own times.
    auto r = store->get_run("old");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, "done");
    EXPECT_EQ(r->updated_at, 1004);
    EXPECT_EQ(r->params, run("old").params);
    auto steps = store->get_steps("old");
    ASSERT_TRUE(steps);
    ASSERT_EQ(steps->size(), 2u);
    auto offs = store->get_check_offs("old");
    ASSERT_TRUE(offs && offs->size() == 1u);
    EXPECT_EQ((*offs)[0].note, "fine");
    auto events = store->get_events("old");
    auto source_events = src.get_events("old");
    ASSERT_TRUE(events && source_events);
    ASSERT_EQ(events->size(), source_events->size());
    for (size_t i = 0; i < events->size(); ++i) {
        EXPECT_EQ((*events)[i].kind, (*source_events)[i].kind);
        EXPECT_EQ((*events)[i].at, (*source_events)[i].at);
        EXPECT_EQ((*events)[i].detail, (*source_events)[i].detail);
    }
    EXPECT_EQ((*store->applied_params("web1"))->params.front().second, "2.0");  // newer kept
    auto facts = store->list_facts("web1", 10);
    ASSERT_TRUE(facts && facts->size() == 2u);
    EXPECT_EQ(store->get_facts((*facts)[0].id)->document, R"({"os":"debian 12"})");

    // Again: nothing is duplicated.
    auto again = copy_store(src, *store, [](std::string_view, int64_t, int64_t) {});
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(summary(*again),
              "runs: 0 copied, 2 skipped; facts snapshots: 0 copied, 2 skipped; state reports: 0 "
              "copied, 1 skipped; applied params: 0 copied, 1 skipped; audit entries: 0 copied, 0 "
              "skipped; ");
    EXPECT_EQ(store->get_events("old")->size(), events->size());
    auto log = store->get_log("old", "build");  // the step's log came along, once
    ASSERT_TRUE(log) << log.error().message();
    ASSERT_EQ(log->size(), 2u);
    EXPECT_EQ((*log)[1].line, "done 'ok'");
    EXPECT_EQ((*log)[1].at, 1002);
    EXPECT_EQ(store->list_host_states("", 10)->size(), 1u);
    EXPECT_EQ(store->list_runs(10)->size(), 2u);
}

// --- Log lines and the live stream (#15, h2-live) ---

LogLine line(const std::string& run, const std::string& step, const std::string& text,
             int64_t at = 5) {
    return LogLine{0, at, run, step, text};
}

TEST_P(StoreContract, LogLinesAreKeptPerStepInOrderAndReadAfterACursor) {
    ASSERT_TRUE(store->create_run(run("r1")));
    ASSERT_TRUE(store->create_run(run("r2", 2000)));
    auto empty = store->latest_cursor();
    ASSERT_TRUE(empty) << empty.error().message();
    EXPECT_EQ(empty->log_seq, 0);
    ASSERT_TRUE(store->append_log_lines({}));
    ASSERT_TRUE(store->append_log_lines({line("r1", "build", "one"), line("r1", "test", "x"),
                                         line("r1", "build", "two 'quoted' \\ $1 ;--")}));
    ASSERT_TRUE(
        store->append_log_lines({line("r2", "build", "other run"), line("r1", "build", "three")}));
    auto log = store->get_log("r1", "build");
    ASSERT_TRUE(log) << log.error().message();
    ASSERT_EQ(log->size(), 3u);
    EXPECT_EQ((*log)[0].line, "one");
    EXPECT_EQ((*log)[1].line, "two 'quoted' \\ $1 ;--");
    EXPECT_EQ((*log)[2].line, "three");
    EXPECT_LT((*log)[0].seq, (*log)[1].seq);
    EXPECT_EQ((*log)[0].at, 5);
    EXPECT_TRUE(store->get_log("r1", "nope")->empty());
    auto logged = store->steps_with_logs("r1");
    ASSERT_TRUE(logged) << logged.error().message();
    EXPECT_EQ(*logged, (std::vector<std::string>{"build", "test"}));
    EXPECT_TRUE(store->steps_with_logs("nope")->empty());

    auto all = store->log_lines_since(0, 100);
    ASSERT_TRUE(all) << all.error().message();
    ASSERT_EQ(all->size(), 5u);
    EXPECT_EQ((*all)[3].run_id, "r2");
    auto after = store->log_lines_since((*all)[1].seq, 2);
    ASSERT_TRUE(after);
    ASSERT_EQ(after->size(), 2u);
    EXPECT_EQ((*after)[0].seq, (*all)[2].seq);
    auto one_run = store->log_lines_since((*all)[0].seq, 100, "r1");
    ASSERT_TRUE(one_run);
    ASSERT_EQ(one_run->size(), 3u);
    EXPECT_EQ(one_run->back().line, "three");
    EXPECT_EQ(store->latest_cursor()->log_seq, all->back().seq);
    // Another connection sees them (they are committed).
    auto other = reopen();
    ASSERT_TRUE(other);
    EXPECT_EQ(other->get_log("r1", "build")->size(), 3u);
}

TEST_P(StoreContract, AFailedStepRecordWritesNothingAndTheStoreGoesOn) {
    ASSERT_TRUE(store->create_run(run("r1")));
    StepRecord orphan;
    orphan.run_id = "nope";  // no such run: the foreign key refuses it
    orphan.step_id = "s";
    orphan.state = "ok";
    orphan.finish_seq = -1;
    auto bad =
        store->record_step(orphan, Event{0, 1, "nope", "s", "step-ok", ""}, Durability::relaxed);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::store);
    EXPECT_TRUE(store->events_since(0, 100, "nope")->empty());
    StepRecord good = orphan;
    good.run_id = "r1";
    auto seq = store->record_step(good, Event{0, 2, "r1", "s", "step-ok", ""}, Durability::relaxed);
    ASSERT_TRUE(seq) << seq.error().message();
    EXPECT_EQ(*seq, 1);
    EXPECT_EQ(store->get_steps("r1")->size(), 1u);
}

TEST_P(StoreContract, ABigBatchIsOneAppend) {
    ASSERT_TRUE(store->create_run(run("r1")));
    std::vector<LogLine> batch;
    for (int i = 0; i < 2500; ++i) {
        batch.push_back(line("r1", "s", "line " + std::to_string(i)));
    }
    ASSERT_TRUE(store->append_log_lines(batch));
    auto log = store->get_log("r1", "s");
    ASSERT_TRUE(log);
    ASSERT_EQ(log->size(), 2500u);
    EXPECT_EQ(log->back().line, "line 2499");
}

TEST_P(StoreContract, EventsSinceReadsEveryRunInSequenceOrder) {
    ASSERT_TRUE(store->create_run(run("r1")));
    ASSERT_TRUE(store->create_run(run("r2", 2000)));
    ASSERT_TRUE(store->update_run("r1", "done", 1, 3000));
    ASSERT_TRUE(store->append_event(Event{0, 4000, "r2", "s", "step-started", ""}));
    auto all = store->events_since(0, 100);
    ASSERT_TRUE(all) << all.error().message();
    ASSERT_EQ(all->size(), 4u);
    EXPECT_EQ((*all)[0].run_id, "r1");
    EXPECT_EQ((*all)[0].kind, "run-started");
    EXPECT_EQ((*all)[1].run_id, "r2");
    EXPECT_EQ((*all)[2].kind, "run-done");
    EXPECT_EQ((*all)[3].step_id, "s");
    for (size_t i = 1; i < all->size(); ++i) {
        EXPECT_LT((*all)[i - 1].seq, (*all)[i].seq);
    }
    auto page = store->events_since((*all)[0].seq, 2);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->size(), 2u);
    EXPECT_EQ((*page)[0].seq, (*all)[1].seq);
    auto r2 = store->events_since(0, 100, "r2");
    ASSERT_TRUE(r2);
    ASSERT_EQ(r2->size(), 2u);
    EXPECT_EQ(r2->back().kind, "step-started");
    auto cursor = store->latest_cursor();
    ASSERT_TRUE(cursor);
    EXPECT_EQ(cursor->event_seq, all->back().seq);
    EXPECT_TRUE(store->events_since(cursor->event_seq, 100)->empty());
}

TEST_P(StoreContract, AChangeWaiterWakesForAWriteFromAnotherConnection) {
    ASSERT_TRUE(store->create_run(run("r1")));
    auto waiter = store->open_change_waiter();
    ASSERT_TRUE(waiter) << waiter.error().message();
    auto start = store->latest_cursor();
    ASSERT_TRUE(start);
    // Nothing changes: the wait ends with the timeout and the same cursor.
    auto same = (*waiter)->wait(*start, std::chrono::milliseconds(150));
    ASSERT_TRUE(same) << same.error().message();
    EXPECT_EQ(*same, *start);
    // A log line and an event, written by another connection while the waiter waits.
    auto writer = store->connect_again();
    ASSERT_TRUE(writer) << writer.error().message();
    std::thread write([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_TRUE((*writer)->append_log_lines({line("r1", "s", "hello")}));
    });
    // Woken by the write, not by the (generous) timeout.
    const auto began = std::chrono::steady_clock::now();
    auto woke = (*waiter)->wait(*start, std::chrono::seconds(30));
    EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(30));
    write.join();
    ASSERT_TRUE(woke) << woke.error().message();
    EXPECT_EQ(woke->log_seq, start->log_seq + 1);
    std::thread check_off([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_TRUE((*writer)->add_check_off(CheckOff{"r1", "qa", "qa", "alice", "", 9}));
    });
    const auto began_again = std::chrono::steady_clock::now();
    auto again = (*waiter)->wait(*woke, std::chrono::seconds(30));
    EXPECT_LT(std::chrono::steady_clock::now() - began_again, std::chrono::seconds(30));
    check_off.join();
    ASSERT_TRUE(again);
    EXPECT_GT(again->event_seq, woke->event_seq);
    // A readable cancel descriptor ends the wait at once.
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    ASSERT_EQ(::write(fds[1], "x", 1), 1);
    auto cancelled = (*waiter)->wait(*again, std::chrono::seconds(600), fds[0]);
    ::close(fds[0]);
    ::close(fds[1]);
    ASSERT_TRUE(cancelled);
    EXPECT_EQ(*cancelled, *again);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<Backend>& param) {
                             return param.param.name;
                         });

TEST(OpenStore, NamesUnsupportedLocations) {
    // A PostgreSQL URI is a PostgreSQL store: here one that cannot be reached, and the message
    // names it (without its password).
    for (const std::string scheme : {"postgresql", "postgres"}) {
        auto pg = open_store(scheme + "://u:secret@%2Fnonexistent-dir/x");
        ASSERT_FALSE(pg);
        EXPECT_EQ(pg.error().code(), Errc::store);
        const std::string named =
            "connecting to the store '" + scheme + "://u:***@%2Fnonexistent-dir/x': ";
        EXPECT_EQ(pg.error().message().substr(0, named.size()), named);
        EXPECT_EQ(pg.error().message().find("secret"), std::string::npos);
    }
    auto bad = open_store("/nonexistent-dir/x/state.db");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::store);
    auto scheme = open_store("mysql://x");
    ASSERT_FALSE(scheme);
    EXPECT_EQ(scheme.error().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace shipshape::store
