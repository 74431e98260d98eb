// The PostgreSQL backend's own behaviour (the shared contract is in store/store_test.cpp): the
// schema is versioned and moved only by migrate_store, an older or newer schema is refused with
// what to do, a read-only session writes nothing, and passwords stay out of messages.
#include "store/postgres/pg_store.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "core/testing/skip.hpp"
#include "store/postgres/pg_db.hpp"
#include "store/testing/postgres_server.hpp"

namespace shipshape::store {
namespace {

class PostgresStore : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        auto started = testing::PostgresServer::start();
        if (started) {
            s_server = std::move(*started);
        } else {
            s_error = started.error().message();
            s_unsupported = started.error().code() == Errc::unsupported;
        }
    }
    static void TearDownTestSuite() { s_server.reset(); }

    void SetUp() override {
        if (!s_server && s_unsupported) {
            SHIPSHAPE_SKIP_OR_FAIL("no test PostgreSQL server: " << s_error);
        }
        ASSERT_TRUE(s_server) << "starting the test PostgreSQL server: " << s_error;
        static int count = 0;
        auto made = s_server->create_database("pg" + std::to_string(++count) + "_" +
                                              std::to_string(::getpid()));
        ASSERT_TRUE(made) << made.error().message();
        uri = *made;
    }

    // Runs `sql` on the test database directly (as another client, or an older/newer shipshape).
    void sql(const std::string& text) {
        PGconn* conn = PQconnectdb(uri.c_str());
        ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
        PGresult* r = PQexec(conn, text.c_str());
        const auto status = PQresultStatus(r);
        EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
            << PQerrorMessage(conn);
        PQclear(r);
        PQfinish(conn);
    }

    static inline std::unique_ptr<testing::PostgresServer> s_server;
    static inline std::string s_error;
    static inline bool s_unsupported = false;
    std::string uri;
};

// Every migration this shipshape knows (one per entry of pg_store.cpp's k_migrations).
const int64_t k_version = pg_detail::schema_version();

TEST_F(PostgresStore, AnEmptyDatabaseIsRefusedUntilMigratedThenMigratesOnce) {
    const int64_t version = pg_detail::schema_version();
    const std::string current = std::to_string(version);
    auto before = open_store(uri);
    ASSERT_FALSE(before);
    EXPECT_EQ(before.error().code(), Errc::store);
    EXPECT_EQ(before.error().message(),
              "the store '" + uri + "' has schema version 0 and this shipshape needs " +
                  std::to_string(k_version) + ": run " + "'shipshape store migrate' to upgrade it");
    auto first = migrate_store(uri);
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(first->from, 0);
    EXPECT_EQ(first->to, k_version);
    auto again = migrate_store(uri);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->from, k_version);
    EXPECT_EQ(again->to, k_version);
    auto after = open_store(uri);
    ASSERT_TRUE(after) << after.error().message();
    EXPECT_TRUE((*after)->list_runs(10)->empty());
}

// A store of the shipshape before the CI queue (#19) migrates, keeps its runs and gets the queue.
TEST_F(PostgresStore, AStoreFromBeforeTheCiQueueMigratesToIt) {
    const int64_t before_ci = k_version - 1;
    std::string script;
    for (int64_t v = 0; v < before_ci; ++v) {
        script += pg_detail::migration_sql(v);
    }
    sql(script + "UPDATE shipshape_schema SET version = " + std::to_string(before_ci) + ";" +
        "INSERT INTO runs VALUES('r1', 'c.toml', 'c', '', 'prod', 'done', 'ops', 'h', 0, 1, 2);");
    EXPECT_FALSE(open_store(uri));
    auto migrated = migrate_store(uri);
    ASSERT_TRUE(migrated) << migrated.error().message();
    EXPECT_EQ(migrated->from, before_ci);
    EXPECT_EQ(migrated->to, k_version);
    auto store = open_store(uri);
    ASSERT_TRUE(store) << store.error().message();
    EXPECT_EQ((*store)->get_run("r1")->status, "done");
    CiPipeline pipeline;
    pipeline.commit = "abcd0123";
    pipeline.jobs = {CiJob{}};
    pipeline.jobs[0].name = "unit";
    auto enqueued = (*store)->enqueue_ci_pipeline(pipeline);
    ASSERT_TRUE(enqueued) << enqueued.error().message();
    EXPECT_EQ((*store)->find_ci_pipelines(CiFilter{"", "", "abcd", "", 5})->size(), 1u);
}

TEST_F(PostgresStore, ANewerSchemaIsRefusedByOpenAndMigrate) {
    ASSERT_TRUE(migrate_store(uri));
    sql("UPDATE shipshape_schema SET version = 99");
    const std::string newer = "the store '" + uri +
                              "' has schema version 99, newer than this shipshape (" +
                              std::to_string(k_version) + "): upgrade shipshape";
    auto opened = open_store(uri);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().message(), newer);
    auto migrated = migrate_store(uri);
    ASSERT_FALSE(migrated);
    EXPECT_EQ(migrated.error().message(), newer);
}

TEST_F(PostgresStore, ReadOnlyAccessReadsButNeverWrites) {
    ASSERT_TRUE(migrate_store(uri));
    RunRecord run;
    run.id = "r1";
    run.status = "running";
    ASSERT_TRUE((*open_store(uri))->create_run(run));
    auto ro = open_store(uri, Access::read_only);
    ASSERT_TRUE(ro) << ro.error().message();
    EXPECT_EQ((*ro)->get_run("r1")->id, "r1");
    run.id = "r2";
    auto write = (*ro)->create_run(run);
    ASSERT_FALSE(write);
    EXPECT_EQ(write.error().code(), Errc::store);
    EXPECT_NE(write.error().message().find("read-only transaction"), std::string::npos)
        << write.error().message();
    EXPECT_FALSE((*ro)->get_run("r2"));
}

TEST(PostgresUri, PasswordsAreRedacted) {
    // A password in the authority.
    EXPECT_EQ(redact_postgres_uri("postgresql://ops:s3cret@db.example/ship"),
              "postgresql://ops:***@db.example/ship");
    // A password as a parameter.
    EXPECT_EQ(redact_postgres_uri("postgresql://db/ship?password=s3cret&sslmode=require"),
              "postgresql://db/ship?password=***&sslmode=require");
    // No password: unchanged (an '@' in the path is not a user).
    EXPECT_EQ(redact_postgres_uri("postgresql://ops@db/ship"), "postgresql://ops@db/ship");
    EXPECT_EQ(redact_postgres_uri("postgres://db/a:b@c"), "postgres://db/a:b@c");
}

}  // namespace
}  // namespace shipshape::store
