#include "store/store.hpp"

#include "store/sqlite/sqlite_store.hpp"

namespace shipshape::store {

Result<std::unique_ptr<Store>> open_store(const std::string& location, Access access) {
    std::string_view loc = location;
    if (loc.rfind("sqlite:", 0) == 0) {
        return open_sqlite_store(std::string(loc.substr(7)), access);
    }
    if (loc.rfind("postgresql://", 0) == 0 || loc.rfind("postgres://", 0) == 0) {
        return fail(Errc::unsupported,
                    "store '" + location +
                        "': PostgreSQL stores are not supported by this "
                        "version of shipshape yet; use the embedded SQLite store (the default)");
    }
    if (loc.find("://") != std::string_view::npos) {
        return fail(Errc::invalid_argument,
                    "store '" + location + "': unknown scheme (expected a path or sqlite:PATH)");
    }
    return open_sqlite_store(location, access);
}

}  // namespace shipshape::store
