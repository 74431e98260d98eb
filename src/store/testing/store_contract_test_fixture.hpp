// Test-only: the store contract's fixture, shared by the suites that run against every backend
// (store_test.cpp, audit_store_test.cpp): StoreContract opens a fresh store per test on each
// backend in backends() -- SQLite, and PostgreSQL on a server the test process starts itself
// (one per process, a fresh database per test). Exactly one test file registers
// PostgresEnvironment (store_test.cpp), which stops the server when the process ends.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/testing/skip.hpp"
#include "store/store.hpp"
#include "store/testing/postgres_server.hpp"

namespace shipshape::store::contract {

// Opens a store for a test: `dir` is a fresh temporary directory the backend may use; calling
// `open` again with the same `dir` reaches the same data (a reopen, or a second connection).
struct Backend {
    std::string name;
    std::function<Result<std::unique_ptr<Store>>(const std::string& dir)> open;
};

inline void PrintTo(const Backend& backend, std::ostream* out) {
    *out << backend.name;
}

// The test process's PostgreSQL server, started by the first test that needs it and stopped when
// the process ends (the environment's TearDown).
class PostgresEnvironment : public ::testing::Environment {
  public:
    static Result<testing::PostgresServer*> server() {
        if (!s_server && !s_error) {
            auto started = testing::PostgresServer::start();
            if (started) {
                s_server = std::move(*started);
            } else {
                s_error = started.error();
            }
        }
        if (s_error) {
            return fail(*s_error);
        }
        return s_server.get();
    }
    void TearDown() override { s_server.reset(); }

  private:
    static inline std::unique_ptr<testing::PostgresServer> s_server;
    static inline std::optional<Error> s_error;
};

inline std::map<std::string, std::string>& postgres_databases() {
    static std::map<std::string, std::string> databases;
    return databases;
}

// One database per test directory, created and migrated on first use.
inline Result<std::unique_ptr<Store>> open_postgres(const std::string& dir) {
    auto& databases = postgres_databases();
    auto it = databases.find(dir);
    if (it == databases.end()) {
        auto server = PostgresEnvironment::server();
        if (!server) {
            return fail(server.error());
        }
        static int count = 0;
        std::string name = "t" + std::to_string(++count) + "_" + std::to_string(::getpid());
        auto uri = (*server)->create_database(name);
        if (!uri) {
            return fail(uri.error());
        }
        if (auto migrated = migrate_store(*uri); !migrated) {
            return fail(migrated.error());
        }
        it = databases.emplace(dir, *uri).first;
    }
    return open_store(it->second);
}

inline const std::vector<Backend>& backends() {
    static const std::vector<Backend> k_backends = {
        {"sqlite",
         [](const std::string& dir) { return open_store("sqlite:" + dir + "/state.db"); }},
        {"postgres", open_postgres},
    };
    return k_backends;
}

class StoreContract : public ::testing::TestWithParam<Backend> {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/shipshape-store-XXXXXX";
        dir = ::mkdtemp(tmpl);
        auto s = GetParam().open(dir);
        if (!s && s.error().code() == Errc::unsupported) {
            SHIPSHAPE_SKIP_OR_FAIL(GetParam().name << ": " << s.error().message());
        }
        ASSERT_TRUE(s) << s.error().message();
        store = std::move(*s);
    }
    void TearDown() override {
        store.reset();
        std::system(("rm -rf " + dir).c_str());
    }
    std::unique_ptr<Store> reopen() {
        auto s = GetParam().open(dir);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : nullptr;
    }
    static RunRecord run(const std::string& id, int64_t at = 1000) {
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
    std::string dir;
    std::unique_ptr<Store> store;
};

}  // namespace shipshape::store::contract
