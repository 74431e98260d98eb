// Connecting to a PostgreSQL store: the session settings every connection gets, and the two ways
// in (open: the schema must be current; migrate: bring it there).
#include <memory>
#include <string>
#include <utility>

#include "core/text.hpp"
#include "store/postgres/pg_db.hpp"
#include "store/postgres/pg_store.hpp"

namespace shipshape::store {

namespace pg_detail {

// libpq prints server notices on stderr by default; the library never prints.
namespace {
void ignore_notice(void* /*arg*/, const char* /*message*/) {}

}  // namespace

Result<std::unique_ptr<PgStore>> connect_postgres(const std::string& uri, Access access) {
    const std::string where = redact_postgres_uri(uri);
    PGconn* conn = PQconnectdb(uri.c_str());
    if (conn == nullptr) {
        return fail(Errc::store, "connecting to the store '" + where + "': out of memory");
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string msg(trim(PQerrorMessage(conn)));
        PQfinish(conn);
        return fail(Errc::store, "connecting to the store '" + where + "': " + msg);
    }
    PQsetNoticeProcessor(conn, ignore_notice, nullptr);
    auto store = std::make_unique<pg_detail::PgStore>(conn, where);
    store->set_origin(uri, access);
    // Times are plain integers and text is UTF-8 both ways: no locale or zone settings matter.
    if (auto st =
            store->exec_script("setting up the session",
                               "SET client_encoding = 'UTF8'; SET application_name = 'shipshape'");
        !st) {
        return fail(st.error());
    }
    if (access == Access::read_only) {
        if (auto st = store->exec_script("setting up the session",
                                         "SET default_transaction_read_only = on");
            !st) {
            return fail(st.error());
        }
    }
    return store;
}

}  // namespace pg_detail

std::string redact_postgres_uri(const std::string& uri) {
    std::string out = uri;
    // postgresql://user:PASSWORD@host/...
    if (const size_t scheme = out.find("://"); scheme != std::string::npos) {
        const size_t start = scheme + 3;
        const size_t at = out.find('@', start);
        const size_t slash = out.find('/', start);
        const size_t colon = out.find(':', start);
        if (at != std::string::npos && (slash == std::string::npos || at < slash) &&
            colon != std::string::npos && colon < at) {
            out = out.substr(0, colon + 1) + "***" + out.substr(at);
        }
    }
    // ...?password=PASSWORD&...
    if (const size_t param = out.find("password="); param != std::string::npos) {
        const size_t end = out.find('&', param);
        out = out.substr(0, param) + "password=***" +
              (end == std::string::npos ? "" : out.substr(end));
    }
    return out;
}

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& uri, Access access) {
    auto store = pg_detail::connect_postgres(uri, access);
    if (!store) {
        return fail(store.error());
    }
    if (auto st = (*store)->check_schema(); !st) {
        return fail(st.error());
    }
    return std::unique_ptr<Store>(std::move(*store));
}

Result<SchemaMigration> migrate_postgres_store(const std::string& uri) {
    auto store = pg_detail::connect_postgres(uri, Access::read_write);
    if (!store) {
        return fail(store.error());
    }
    auto before = (*store)->migrate();
    if (!before) {
        return fail(before.error());
    }
    return SchemaMigration{*before, pg_detail::schema_version()};
}

}  // namespace shipshape::store
