// Opening the SQLite store: read-write (created 0600 and migrated to the current schema), or
// read-only without writing a byte when the file or its directory cannot be written, so that the
// commands that only read (runs, show) work on a read-only .shipshape.
//
// A WAL database needs its -shm file to be read, and SQLite creates it beside the database. In a
// read-only directory it cannot; when no write-ahead log holds data either (the last writer
// closed cleanly: it checkpointed and removed it), the database file alone is the whole database,
// and it is opened "immutable" (no locks, no -shm). A log with data in it needs its -shm: then
// the store cannot be read here, and the error says so.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "store/sqlite/sqlite_db.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace shipshape::store {

namespace {

std::string errno_reason(int err) {
    switch (err) {
        case EROFS:
            return "read-only file system";
        case EACCES:
            return "permission denied";
        case EPERM:
            return "operation not permitted (an immutable file?)";
        default:
            return "error " + std::to_string(err);
    }
}

std::string directory_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

// Why an existing database at `path` cannot be written, or nullopt when it can (or does not exist
// yet: creating it reports its own error).
std::optional<std::string> why_not_writable(const std::string& path) {
    if (::faccessat(AT_FDCWD, path.c_str(), F_OK, AT_EACCESS) != 0) {
        return std::nullopt;
    }
    if (::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) != 0) {
        return "'" + path + "' cannot be written: " + errno_reason(errno);
    }
    const std::string dir = directory_of(path);
    if (::faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
        return "'" + dir + "' cannot be written: " + errno_reason(errno);
    }
    return std::nullopt;
}

bool has_write_ahead_log(const std::string& path) {
    struct stat st {};
    return ::stat((path + "-wal").c_str(), &st) == 0 && st.st_size > 0;
}

// "file:" URI of `path` with SQLite's immutable flag; every byte that a URI would read
// differently is percent-encoded.
std::string immutable_uri(const std::string& path) {
    static const char* const k_hex = "0123456789ABCDEF";
    std::string uri = "file:";
    for (unsigned char c : path) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '-' || c == '_';
        if (plain) {
            uri += static_cast<char>(c);
        } else {
            uri += '%';
            uri += k_hex[c >> 4];
            uri += k_hex[c & 15];
        }
    }
    return uri + "?immutable=1";
}

Result<std::unique_ptr<sqlite_detail::SqliteStore>> connect(const std::string& path,
                                                            const std::string& name, int flags) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(name.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        return fail(Errc::store, "opening the store '" + path + "': " + msg);
    }
    sqlite3_busy_timeout(db, 10000);
    return std::make_unique<sqlite_detail::SqliteStore>(db, path);
}

Result<std::unique_ptr<Store>> open_read_only(const std::string& path, const std::string& why) {
    auto store = connect(path, path, SQLITE_OPEN_READONLY);
    if (!store) {
        return fail(Errc::store, store.error().message() + " (opening it read-only: " + why + ")");
    }
    (*store)->set_read_only(why);
    auto st = (*store)->check_schema_read_only();
    if (st) {
        return std::unique_ptr<Store>(std::move(*store));
    }
    if (has_write_ahead_log(path)) {
        return fail(Errc::store, st.error().message() + "; its write-ahead log '" + path +
                                     "-wal' holds data that SQLite reads only with a '" + path +
                                     "-shm' file, which it cannot create there");
    }
    // No log: the file is the whole database (see the top of this file).
    store->reset();
    auto immutable = connect(path, immutable_uri(path), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
    if (!immutable) {
        return fail(Errc::store,
                    immutable.error().message() + " (opening it read-only: " + why + ")");
    }
    (*immutable)->set_read_only(why);
    if (auto again = (*immutable)->check_schema_read_only(); !again) {
        return fail(again.error());
    }
    return std::unique_ptr<Store>(std::move(*immutable));
}

// Opens (creating it 0600 when missing) the database at `path` for writing, without migrating.
Result<std::unique_ptr<sqlite_detail::SqliteStore>> open_writable(const std::string& path) {
    // The journal holds parameters, checklist text and notes: owner only. A new database is
    // created 0600 before SQLite opens it (its -wal and -shm files take the same mode), and an
    // existing one with group or other bits is tightened, best effort (a read-only copy stays).
    if (path != ":memory:") {
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ::close(fd);
        } else if (struct stat st{}; ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
            (void)::chmod(path.c_str(), st.st_mode & 0700);
        }
    }
    return connect(path, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
}

Result<std::unique_ptr<Store>> open_read_write(const std::string& path) {
    auto store = open_writable(path);
    if (!store) {
        return fail(store.error());
    }
    if (auto st = (*store)->migrate(); !st) {
        return fail(st.error());
    }
    return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, Access access) {
    if (path == ":memory:") {
        return open_read_write(path);
    }
    if (access == Access::read_only) {
        return open_read_only(path, "read-only access was asked for");
    }
    if (auto why = why_not_writable(path)) {
        return open_read_only(path, *why);
    }
    return open_read_write(path);
}

Result<SchemaMigration> migrate_sqlite_store(const std::string& path) {
    if (auto why = why_not_writable(path)) {
        return fail(Errc::store, "cannot migrate the store: " + *why);
    }
    auto store = open_writable(path);
    if (!store) {
        return fail(store.error());
    }
    auto before = (*store)->stored_schema_version();
    if (!before) {
        return fail(before.error());
    }
    if (auto st = (*store)->migrate(); !st) {
        return fail(st.error());
    }
    return SchemaMigration{*before, sqlite_detail::schema_version()};
}

}  // namespace shipshape::store
