#include "store/store.hpp"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/postgres/pg_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace shipshape::store {

namespace {

enum class Kind { sqlite, postgres };

// The backend of `location` and what that backend is given, or Errc::invalid_argument.
Result<std::pair<Kind, std::string>> parse_location(const std::string& location) {
    std::string_view loc = location;
    if (loc.rfind("sqlite:", 0) == 0) {
        return std::pair{Kind::sqlite, std::string(loc.substr(7))};
    }
    if (loc.rfind("postgresql://", 0) == 0 || loc.rfind("postgres://", 0) == 0) {
        return std::pair{Kind::postgres, location};
    }
    if (loc.find("://") != std::string_view::npos) {
        return fail(Errc::invalid_argument,
                    "store '" + redact_postgres_uri(location) +
                        "': unknown scheme (expected a path, sqlite:PATH or postgresql://...)");
    }
    return std::pair{Kind::sqlite, location};
}

// SQLite has no notifications: the waiter polls the newest sequence numbers on its own
// connection (one indexed MAX per table).
class PollingChangeWaiter final : public ChangeWaiter {
  public:
    explicit PollingChangeWaiter(std::unique_ptr<Store> store) : m_store(std::move(store)) {}
    Result<ChangeCursor> wait(const ChangeCursor& known, std::chrono::milliseconds timeout,
                              int cancel_fd) override {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto now = m_store->latest_cursor();
            if (!now || !(*now == known)) {
                return now;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return now;
            }
            pollfd p{cancel_fd, POLLIN, 0};
            if (::poll(&p, cancel_fd >= 0 ? 1 : 0,
                       static_cast<int>(std::min(left, k_change_poll).count())) > 0) {
                return now;
            }
        }
    }

  private:
    std::unique_ptr<Store> m_store;
};

}  // namespace

Result<std::unique_ptr<ChangeWaiter>> open_change_waiter(const std::string& location) {
    auto parsed = parse_location(location);
    if (!parsed) {
        return fail(parsed.error());
    }
    if (parsed->first == Kind::postgres) {
        return open_postgres_change_waiter(parsed->second);
    }
    auto store = open_sqlite_store(parsed->second, Access::read_only);
    if (!store) {
        return fail(store.error());
    }
    return std::unique_ptr<ChangeWaiter>(std::make_unique<PollingChangeWaiter>(std::move(*store)));
}

StepRecord checked_off_step(const CheckOff& c) {
    StepRecord s;
    s.run_id = c.run_id;
    s.step_id = c.step_id;
    s.state = "checked-off";
    s.exit_code = 0;
    s.detail = "checked off by " + c.by + " as " + c.role;
    s.started_at = c.at;
    s.finished_at = c.at;
    s.finish_seq = -1;
    return s;
}

Event check_off_event(const CheckOff& c) {
    return Event{
        0,           c.at,
        c.run_id,    c.step_id,
        "check-off", "by " + c.by + " as " + c.role + (c.note.empty() ? "" : ": " + c.note)};
}

std::string join_roles(const std::vector<std::string>& roles) {
    std::string out;
    for (const auto& r : roles) {
        out += (out.empty() ? "" : ",") + r;
    }
    return out;
}

std::vector<std::string> split_roles(std::string_view column) {
    std::vector<std::string> out;
    while (!column.empty()) {
        size_t comma = column.find(',');
        out.emplace_back(column.substr(0, comma));
        column = comma == std::string_view::npos ? std::string_view() : column.substr(comma + 1);
    }
    return out;
}

Result<std::unique_ptr<Store>> open_store(const std::string& location, Access access) {
    auto parsed = parse_location(location);
    if (!parsed) {
        return fail(parsed.error());
    }
    if (parsed->first == Kind::postgres) {
        return open_postgres_store(parsed->second, access);
    }
    return open_sqlite_store(parsed->second, access);
}

Result<SchemaMigration> migrate_store(const std::string& location) {
    auto parsed = parse_location(location);
    if (!parsed) {
        return fail(parsed.error());
    }
    if (parsed->first == Kind::postgres) {
        return migrate_postgres_store(parsed->second);
    }
    return migrate_sqlite_store(parsed->second);
}

// For stores that keep no ledger (test fakes): both backends override every one.
Result<AuditEntry> AuditStore::append_audit(const AuditEntry& /*entry*/) {
    return fail(Errc::unsupported, "this store keeps no audit ledger yet");
}

Result<std::optional<AuditEntry>> AuditStore::audit_head() {
    return fail(Errc::unsupported, "this store keeps no audit ledger yet");
}

Status AuditStore::scan_audit(int64_t /*after_seq*/,
                              const std::function<bool(const AuditEntry&)>& /*fn*/) {
    return fail(Errc::unsupported, "this store keeps no audit ledger yet");
}

Result<int64_t> AuditStore::import_audit(const std::vector<AuditEntry>& /*batch*/) {
    return fail(Errc::unsupported, "this store keeps no audit ledger yet");
}

}  // namespace shipshape::store
