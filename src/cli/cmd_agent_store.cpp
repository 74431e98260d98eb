// `shipshape agent pull --report STORE`: reports recorded straight into a store.
#include "cli/agent_cmds.hpp"

namespace shipshape::cli {

StoreReporterFactory store_pull_reporter() {
    return [](const Context&,
              const std::string& location) -> Result<std::function<Status(const std::string&)>> {
        return fail(Errc::unsupported, "--report " + location + ": INTERIM, replaced at merge");
    };
}

}  // namespace shipshape::cli
