// Connecting to a PostgreSQL store: the session settings every connection gets, the two ways in
// (open: the schema must be current; migrate: bring it there), running statements, and
// reconnecting after the server dropped the connection.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/text.hpp"
#include "store/postgres/pg_db.hpp"
#include "store/postgres/pg_store.hpp"

namespace shipshape::store {

namespace pg_detail {

Result<PgResult> PgStore::exec(const std::string& what, const char* sql,
                               std::initializer_list<std::string_view> params) {
    // libpq wants NUL-terminated values: copy them (they are small, and the copies die here).
    return exec_values(what, sql, std::vector<std::string>(params.begin(), params.end()));
}

Error PgStore::unreachable(const std::string& what) const {
    return Error(Errc::unreachable,
                 "store " + m_where + " unreachable: " + std::string(trim(PQerrorMessage(m_conn))) +
                     " (" + what + ")");
}

Status PgStore::reconnect_if_broken() {
    if (PQstatus(m_conn) == CONNECTION_OK) {
        return {};
    }
    if (m_in_transaction) {
        return fail(unreachable("the connection was lost in a transaction"));
    }
    PQreset(m_conn);
    if (PQstatus(m_conn) != CONNECTION_OK) {
        return fail(unreachable("reconnecting"));
    }
    PgResult r(PQexec(m_conn, m_session.c_str()));
    if (PQresultStatus(r.raw()) != PGRES_COMMAND_OK) {
        return fail(unreachable("setting up the session again"));
    }
    return {};
}

Status PgStore::set_session(std::string script) {
    m_session = std::move(script);
    return exec_script("setting up the session", m_session.c_str());
}

Result<PgResult> PgStore::exec_values(const std::string& what, const char* sql,
                                      const std::vector<std::string>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& c : params) {
        values.push_back(c.c_str());
    }
    // A read is retried once when it is what found the connection gone: it changes nothing.
    const bool retry = !m_in_transaction && std::string_view(sql).starts_with("SELECT");
    for (int attempt = 0;; ++attempt) {
        if (auto st = reconnect_if_broken(); !st) {
            return fail(st.error());
        }
        PgResult r(PQexecParams(m_conn, sql, static_cast<int>(values.size()), nullptr,
                                values.empty() ? nullptr : values.data(), nullptr, nullptr, 0));
        const ExecStatusType status = PQresultStatus(r.raw());
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            return r;
        }
        if (PQstatus(m_conn) != CONNECTION_OK) {
            if (retry && attempt == 0) {
                continue;
            }
            return fail(unreachable(what));
        }
        return fail(Errc::store, what + " in the store '" + m_where +
                                     "': " + std::string(trim(PQerrorMessage(m_conn))));
    }
}

Status PgStore::exec_script(const std::string& what, const char* script) {
    if (auto st = reconnect_if_broken(); !st) {
        return st;
    }
    PgResult r(PQexec(m_conn, script));
    const ExecStatusType status = PQresultStatus(r.raw());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        return {};
    }
    if (PQstatus(m_conn) != CONNECTION_OK) {
        return fail(unreachable(what));
    }
    return fail(Errc::store, what + " in the store '" + m_where +
                                 "': " + std::string(trim(PQerrorMessage(m_conn))));
}

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
    std::string session = "SET client_encoding = 'UTF8'; SET application_name = 'shipshape'";
    if (access == Access::read_only) {
        session += "; SET default_transaction_read_only = on";
    }
    if (auto st = store->set_session(std::move(session)); !st) {
        return fail(st.error());
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

Result<int64_t> postgres_schema_version(const std::string& uri) {
    auto store = pg_detail::connect_postgres(uri, Access::read_only);
    if (!store) {
        return fail(store.error());
    }
    return (*store)->stored_schema_version();
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
