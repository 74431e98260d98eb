// The embedded SQLite implementation of Store (see store/store.hpp for the contract).
#pragma once

#include <memory>
#include <string>

#include "store/store.hpp"

namespace shipshape::store {

// Opens or creates the database file at `path` and migrates it to the current schema; with
// Access::read_only, or when the file or its directory cannot be written, opens it read-only
// without writing anything (see Access in store.hpp). Errc::store when the file cannot be opened,
// is from a newer shipshape, or is read-only and older than this shipshape.
[[nodiscard]] Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path,
                                                               Access access = Access::read_write);

// Opens or creates the database file at `path` and migrates it (what opening read-write does),
// returning the version found and the one left. Errc::store as for open_sqlite_store; a store
// that cannot be written is not opened read-only but refused.
[[nodiscard]] Result<SchemaMigration> migrate_sqlite_store(const std::string& path);

}  // namespace shipshape::store
