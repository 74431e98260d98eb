// The PostgreSQL implementation of Store (see store/store.hpp for the contract), for a team
// sharing one database. Unlike the embedded SQLite store, opening never changes the schema: the
// schema is moved forward only by migrate_postgres_store (`shipshape store migrate`).
#pragma once

#include <memory>
#include <string>

#include "store/store.hpp"

namespace shipshape::store {

// Connects to the database at `uri` (a libpq connection URI, postgresql:// or postgres://) and
// checks that its schema is this shipshape's. With Access::read_only the session's transactions
// are read-only: reads work and every write fails (Errc::store, saying the transaction is
// read-only). Errc::store when the server cannot be reached or refuses, when the schema is older
// (the message says to run `shipshape store migrate`) or newer than this shipshape.
[[nodiscard]] Result<std::unique_ptr<Store>> open_postgres_store(
    const std::string& uri, Access access = Access::read_write);

// Applies the missing migrations to the database at `uri`, in one transaction; concurrent
// migrators take turns. Errc::store as for open_postgres_store, and for a newer schema.
[[nodiscard]] Result<SchemaMigration> migrate_postgres_store(const std::string& uri);

// A ChangeWaiter (store.hpp) on a connection of its own that LISTENs for the notifications
// every write of an event or log line sends.
[[nodiscard]] Result<std::unique_ptr<ChangeWaiter>> open_postgres_change_waiter(
    const std::string& uri);

// `uri` with any password replaced by "***", for messages.
std::string redact_postgres_uri(const std::string& uri);

}  // namespace shipshape::store
