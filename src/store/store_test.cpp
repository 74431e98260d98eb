#include "store/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>

namespace shipshape::store {
namespace {

class StoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-store-XXXXXX";
        dir = ::mkdtemp(tmpl);
        path = dir + "/state.db";
        auto s = open_store(path);
        ASSERT_TRUE(s) << s.error().message();
        store = std::move(*s);
    }
    void TearDown() override {
        store.reset();
        std::system(("rm -rf " + dir).c_str());
    }
    RunRecord run(const std::string& id, int64_t at = 1000) {
        RunRecord r;
        r.id = id;
        r.checklist_path = "checklists/deploy.toml";
        r.checklist_name = "deploy";
        r.checklist_text = "name = 'deploy'";
        r.env = "local";
        r.params = {{"version", "1.4.2"}, {"a", "b"}};
        r.status = "running";
        r.user = "ops";
        r.host = "h";
        r.pid = 42;
        r.started_at = at;
        r.updated_at = at;
        return r;
    }
    std::string dir, path;
    std::unique_ptr<Store> store;
};

TEST_F(StoreTest, RunsRoundTripAndSurviveReopen) {
    ASSERT_TRUE(store->create_run(run("r1", 1000)));
    ASSERT_TRUE(store->create_run(run("r2", 2000)));
    auto dup = store->create_run(run("r1"));
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), Errc::already_exists);
    store.reset();
    store = std::move(*open_store("sqlite:" + path));
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

TEST_F(StoreTest, FinishedStepsAreNumberedInCompletionOrder) {
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

TEST_F(StoreTest, CheckOffMarksTheStep) {
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

TEST_F(StoreTest, EnvironmentLockIsExclusiveUntilStaleOrReleased) {
    LockHolder a{"prod", "run-a", 100, 7, "h", 1};
    LockHolder b{"prod", "run-b", 200, 8, "h", 2};
    auto never_stale = [](const LockHolder&) { return false; };
    auto always_stale = [](const LockHolder&) { return true; };
    auto first = store->acquire_env_lock(a, never_stale);
    ASSERT_TRUE(first && first->acquired);
    auto second = store->acquire_env_lock(b, never_stale);
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->acquired);
    ASSERT_TRUE(second->holder);
    EXPECT_EQ(second->holder->run_id, "run-a");
    EXPECT_EQ(second->holder->pid, 100);
    // Other environments are independent.
    LockHolder c{"staging", "run-c", 300, 9, "h", 3};
    EXPECT_TRUE(store->acquire_env_lock(c, never_stale)->acquired);
    // A dead holder is taken over, and reported.
    auto takeover = store->acquire_env_lock(b, always_stale);
    ASSERT_TRUE(takeover && takeover->acquired);
    EXPECT_EQ(takeover->holder->run_id, "run-a");
    // Release by a non-holder does nothing; by the holder frees it.
    ASSERT_TRUE(store->release_env_lock("prod", "run-a"));
    EXPECT_FALSE(store->acquire_env_lock(a, never_stale)->acquired);
    ASSERT_TRUE(store->release_env_lock("prod", "run-b"));
    EXPECT_TRUE(store->acquire_env_lock(a, never_stale)->acquired);
}

TEST_F(StoreTest, RefusesASchemaFromTheFuture) {
    store.reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto s = open_store(path);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message(), "the store '" + path +
                                       "' has schema version 99, newer than this shipshape (3): "
                                       "upgrade shipshape");
}

TEST(OpenStore, NamesUnsupportedLocations) {
    auto pg = open_store("postgresql://localhost/x");
    ASSERT_FALSE(pg);
    EXPECT_EQ(pg.error().code(), Errc::unsupported);
    auto bad = open_store("/nonexistent-dir/x/state.db");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::store);
}

}  // namespace
}  // namespace shipshape::store

namespace shipshape::store {
namespace {

TEST_F(StoreTest, TheSameRunIsLockedOutWhileItsHolderLives) {
    LockHolder first{"prod", "run-a", 100, 7, "h", 1};
    LockHolder resumed_elsewhere{"prod", "run-a", 200, 8, "h", 2};
    auto never_stale = [](const LockHolder&) { return false; };
    ASSERT_TRUE(store->acquire_env_lock(first, never_stale)->acquired);
    auto second = store->acquire_env_lock(resumed_elsewhere, never_stale);
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->acquired);
    // The holder itself may take it again (resume within one process).
    EXPECT_TRUE(store->acquire_env_lock(first, never_stale)->acquired);
}

}  // namespace
}  // namespace shipshape::store

namespace shipshape::store {
namespace {

TEST_F(StoreTest, FactsSnapshotsRoundTrip) {
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

}  // namespace
}  // namespace shipshape::store
