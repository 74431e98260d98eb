// What the `ci` command files share (cmd_ci.cpp, cmd_ci_worker.cpp): the store they use and the
// machine's places a job needs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/ci_service.hpp"
#include "cli/context.hpp"

namespace CLI {
class App;
}

namespace shipshape::cli {

struct CiStoreOption {
    std::string store;  // --store
};

// --store, else SHIPSHAPE_STORE, else <working tree>/.shipshape/ci.db (its directory made).
// Errc::invalid_argument saying how to name one outside a working tree.
[[nodiscard]] Result<std::string> ci_store_location(const Context& ctx, const CiStoreOption& o,
                                                    os::ProcessRunner& runner);

struct CiStoreHandle {
    std::string location;
    std::unique_ptr<store::Store> store;
};
// ci_store_location, opened. Errors as both.
[[nodiscard]] Result<CiStoreHandle> open_ci_store(const Context& ctx, const CiStoreOption& o,
                                                  store::Access access);

// This binary, shipshape-fault beside it, and the work and artifacts directories: beside a
// SQLite store (<dir>/ci-work, <dir>/ci-artifacts), else under $XDG_STATE_HOME/shipshape (or
// ~/.local/state/shipshape, /var/lib/shipshape for root).
app::CiEnvironment ci_environment(const Context& ctx, const std::string& store_location);

void add_ci_worker_commands(CLI::App& ci, const std::shared_ptr<CiStoreOption>& so,
                            const std::function<void(CLI::App*)>& store_flag,
                            std::vector<Command>& out);

}  // namespace shipshape::cli
