// The embedded SQLite implementation of Store (see store/store.hpp for the contract).
#pragma once

#include <memory>
#include <string>

#include "store/store.hpp"

namespace shipshape::store {

// Opens or creates the database file at `path` and migrates it to the current schema.
// Errc::store when the file cannot be opened or is from a newer shipshape.
[[nodiscard]] Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

}  // namespace shipshape::store
