// SQLite-only behaviour: schema migrations. A database written by each older shipshape (built
// here with the migrations of its version) opens, migrates to the current schema and keeps its
// data; a database from a newer shipshape is refused untouched.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_db.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace shipshape::store {
namespace {

class SqliteMigration : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-sqlite-XXXXXX";
        dir = ::mkdtemp(tmpl);
        path = dir + "/state.db";
    }
    void TearDown() override { std::system(("rm -rf " + dir).c_str()); }

    // Writes a database at schema `version` the way that version's shipshape left it, with one
    // record in every table that version has.
    void make_database(int64_t version) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        auto exec = [&](const std::string& sql) {
            char* msg = nullptr;
            int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
            EXPECT_EQ(rc, SQLITE_OK) << (msg ? msg : "") << " in: " << sql;
            sqlite3_free(msg);
        };
        for (int64_t v = 0; v < version; ++v) {
            exec(sqlite_detail::migration_sql(v));
        }
        if (version >= 1) {
            exec(
                "INSERT INTO runs VALUES('r1', 'checklists/d.toml', 'd', 'name = \"d\"', 'prod', "
                "'done', 'ops', 'h', 0, 10, 20);"
                "INSERT INTO run_params VALUES('r1', 0, 'version', '1.2');"
                "INSERT INTO steps VALUES('r1', 'build', 'ok', 1, 0, '', 11, 12, 1, 1, '');"
                "INSERT INTO events(at, run_id, step_id, kind, detail) "
                "VALUES(10, 'r1', '', 'run-started', 'x');"
                "INSERT INTO env_locks(env, run_id, pid, pid_start_ticks, host, started_at) "
                "VALUES('prod', 'r1', 5, 6, 'h', 10);");
        }
        if (version >= 2) {
            exec(
                "INSERT INTO facts_snapshots(host, at, hash, document) VALUES('web1', 30, 'f', "
                "'{}');");
        }
        if (version >= 3) {
            exec(
                "INSERT INTO host_states(host, at, hash, document) VALUES('web1', 40, 's', "
                "'report');");
        }
        exec("PRAGMA user_version=" + std::to_string(version));
        sqlite3_close(db);
    }

    int64_t user_version() {
        sqlite3* db = nullptr;
        EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
        sqlite3_stmt* q = nullptr;
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, nullptr);
        int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
        sqlite3_finalize(q);
        sqlite3_close(db);
        return v;
    }

    std::string dir, path;
};

TEST_F(SqliteMigration, EveryOlderVersionMigratesAndKeepsItsData) {
    const int64_t current = sqlite_detail::schema_version();
    ASSERT_GE(current, 4);  // 4 added the applied parameters
    for (int64_t version = 0; version < current; ++version) {
        SCOPED_TRACE("from schema version " + std::to_string(version));
        std::system(("rm -f " + path + "*").c_str());
        make_database(version);
        auto opened = open_store(path);
        ASSERT_TRUE(opened) << opened.error().message();
        auto& store = **opened;
        EXPECT_EQ(user_version(), current);
        if (version >= 1) {
            auto run = store.get_run("r1");
            ASSERT_TRUE(run) << run.error().message();
            EXPECT_EQ(run->status, "done");
            EXPECT_EQ(run->params.size(), 1u);
            EXPECT_EQ(store.get_steps("r1")->size(), 1u);
            EXPECT_EQ(store.get_events("r1")->size(), 1u);
            auto lock = store.acquire_env_lock(LockHolder{"prod", "r2", 7, 8, "h", 50},
                                               [](const LockHolder&) { return false; });
            ASSERT_TRUE(lock);
            EXPECT_FALSE(lock->acquired);
            EXPECT_EQ(lock->holder->run_id, "r1");
        }
        if (version >= 2) {
            auto facts = store.list_facts("web1", 10);
            ASSERT_TRUE(facts);
            EXPECT_EQ(facts->size(), 1u);
        }
        if (version >= 3) {
            auto report = store.latest_host_state("web1");
            ASSERT_TRUE(report && *report);
            EXPECT_EQ((*report)->document, "report");
        }
        // Every table of the current schema works after the migration.
        EXPECT_TRUE(store.create_run(
            RunRecord{"new", "c", "c", "", "qa", {}, "running", "u", "h", 1, 1, 1}));
        EXPECT_TRUE(store.save_facts(FactsSnapshot{0, "web2", 1, "", "{}"}));
        EXPECT_TRUE(store.save_host_state(FactsSnapshot{0, "web2", 1, "", "r"}));
        EXPECT_TRUE(store.save_applied_params(AppliedParams{"web2", 1, {{"v", "1"}}}));
        EXPECT_EQ((*store.applied_params("web2"))->params.size(), 1u);
        CiPipeline pipeline;
        pipeline.commit = "abcd0123";
        pipeline.jobs = {CiJob{}};
        pipeline.jobs[0].name = "unit";
        auto enqueued = store.enqueue_ci_pipeline(pipeline);
        ASSERT_TRUE(enqueued) << enqueued.error().message();
        EXPECT_EQ(store.find_ci_pipelines(CiFilter{"", "", "abcd", "", 5})->size(), 1u);
        opened->reset();
        // Opening again at the current version changes nothing.
        auto again = open_store(path);
        ASSERT_TRUE(again) << again.error().message();
        EXPECT_TRUE((*again)->get_run("new"));
    }
}

TEST_F(SqliteMigration, RefusesASchemaFromTheFuture) {
    const int64_t current = sqlite_detail::schema_version();
    make_database(current);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto s = open_store(path);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), Errc::store);
    EXPECT_EQ(s.error().message(), "the store '" + path +
                                       "' has schema version 99, newer than this shipshape (" +
                                       std::to_string(current) + "): upgrade shipshape");
    EXPECT_EQ(user_version(), 99);  // left as it was
}

std::string file_bytes(const std::string& path) {
    std::string out;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
            out.append(buf, n);
        }
        std::fclose(f);
    }
    return out;
}

// Read-only access (what a read-only .shipshape gets; e2e test_robust.py covers the mount):
// reads work, the database is not changed, and a write fails saying why.
TEST_F(SqliteMigration, ReadOnlyReadsAndRefusesWritesWithTheReason) {
    {
        auto s = open_store(path);
        ASSERT_TRUE(s) << s.error().message();
        ASSERT_TRUE((*s)->create_run(
            RunRecord{"r1", "c.toml", "c", "", "qa", {{"v", "1"}}, "done", "u", "h", 1, 1, 1}));
    }
    const std::string before = file_bytes(path);
    auto s = open_store(path, Access::read_only);
    ASSERT_TRUE(s) << s.error().message();
    auto runs = (*s)->list_runs(10);
    ASSERT_TRUE(runs) << runs.error().message();
    ASSERT_EQ(runs->size(), 1u);
    EXPECT_EQ(runs->front().params.size(), 1u);
    auto write = (*s)->create_run(
        RunRecord{"r2", "c.toml", "c", "", "qa", {}, "running", "u", "h", 1, 2, 2});
    ASSERT_FALSE(write);
    EXPECT_EQ(write.error().code(), Errc::store);
    EXPECT_EQ(write.error().message(),
              "creating run r2 in '" + path +
                  "': attempt to write a readonly database (the store is open read-only: "
                  "read-only access was asked for)");
    s->reset();
    EXPECT_EQ(file_bytes(path), before);
}

// A read-only store at an older schema cannot be migrated: a clear error, and it stays as it was.
TEST_F(SqliteMigration, ReadOnlyRefusesAnOlderSchemaUntouched) {
    const int64_t current = sqlite_detail::schema_version();
    make_database(current - 1);
    auto s = open_store(path, Access::read_only);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), Errc::store);
    EXPECT_EQ(s.error().message(),
              "the store '" + path + "' has schema version " + std::to_string(current - 1) +
                  " and this shipshape needs " + std::to_string(current) +
                  ", but it is read-only (read-only access was asked for): run shipshape once "
                  "where it can write the store, to upgrade it");
    EXPECT_EQ(user_version(), current - 1);
}

// Nor does read-only access hide a schema from the future.
TEST_F(SqliteMigration, ReadOnlyRefusesASchemaFromTheFuture) {
    make_database(sqlite_detail::schema_version());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto s = open_store(path, Access::read_only);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message().find("has schema version 99, newer than this shipshape"),
              std::string::npos)
        << s.error().message();
}

// Several shipshape processes opening a store that does not exist yet (a run and a check-off
// started together): each creates, switches to WAL and migrates, and none may fail with
// "database is locked" (switching to WAL answers SQLITE_BUSY without the busy handler).
TEST_F(SqliteMigration, ConcurrentFirstOpensAllSucceed) {
    for (int round = 0; round < 40; ++round) {
        const std::string fresh = dir + "/fresh-" + std::to_string(round) + ".db";
        std::vector<std::string> errors(4);
        std::vector<std::thread> openers;
        for (size_t t = 0; t < errors.size(); ++t) {
            openers.emplace_back([&, t] {
                auto s = open_store(fresh);
                if (!s) {
                    errors[t] = s.error().message();
                }
            });
        }
        for (auto& t : openers) {
            t.join();
        }
        for (const auto& e : errors) {
            ASSERT_EQ(e, "") << "round " << round;
        }
    }
}

}  // namespace
}  // namespace shipshape::store
