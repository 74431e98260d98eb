// Test-only: a throw-away PostgreSQL server for the store tests, started by the tests themselves
// (initdb and pg_ctl in a temporary directory, on a Unix socket there; never a global service).
// The work is done by tests/e2e/pgserver.py, the one implementation the e2e tests use too; this
// runs it through os::ProcessRunner.
//
// A PostgresServer is used from one thread at a time; destroying it stops the server and removes
// its directory, and so does the end of the test process if it never gets there (a crash).
#pragma once

#include <memory>
#include <string>

#include "core/error.hpp"

namespace shipshape::store::testing {

class PostgresServer {
  public:
    // Starts a server in a new temporary directory. Errc::unsupported (with the reason) when this
    // machine has no PostgreSQL server; Errc::io when starting it fails.
    [[nodiscard]] static Result<std::unique_ptr<PostgresServer>> start();
    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;
    ~PostgresServer();

    // Creates the empty database `name` and returns its libpq URI. Errc::io when it fails.
    [[nodiscard]] Result<std::string> create_database(const std::string& name);

  private:
    explicit PostgresServer(std::string dir) : m_dir(std::move(dir)) {}
    std::string m_dir;
};

}  // namespace shipshape::store::testing
