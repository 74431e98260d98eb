// `shipshape agent pull --report STORE`: each report checked and recorded straight into a store
// (a PostgreSQL URI, or a SQLite path), as the server's POST /api/v1/hosts/{host}/reports would.
#include <chrono>

#include "app/pull_reports.hpp"
#include "cli/agent_cmds.hpp"
#include "core/wall_ms.hpp"
#include "os/file_system.hpp"
#include "store/store.hpp"

namespace shipshape::cli {

StoreReporterFactory store_pull_reporter() {
    return [](const Context& ctx,
              const std::string& given) -> Result<std::function<Status(const std::string&)>> {
        std::string location = given;
        if (given.find("://") == std::string::npos) {
            location = os::path_absolute(given.rfind("sqlite:", 0) == 0 ? given.substr(7) : given,
                                         ctx.cwd);
        }
        // Opened once per cycle's report, not kept: a pull sleeps for minutes between them.
        return std::function<Status(const std::string&)>(
            [location](const std::string& doc) -> Status {
                auto report = app::parse_pull_report(doc);
                if (!report) {
                    return fail(report.error());
                }
                auto store = store::open_store(location);
                if (!store) {
                    return fail(Errc::unreachable, store.error().message());
                }
                const int64_t now = wall_ms();
                auto recorded = app::record_pull_report(**store, *report, now);
                if (!recorded) {
                    return fail(recorded.error().code() == Errc::invalid_argument
                                    ? recorded.error()
                                    : Error(Errc::unreachable, recorded.error().message()));
                }
                return {};
            });
    };
}

}  // namespace shipshape::cli
