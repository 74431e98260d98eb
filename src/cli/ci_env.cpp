// Where CI keeps things on this machine (ci_cmds.hpp): the store, this binary and the work,
// artifacts and images directories.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "cli/ci_cmds.hpp"
#include "os/file_system.hpp"
#include "os/self_exe.hpp"

namespace shipshape::cli {

Result<std::string> ci_store_location(const Context& ctx, const CiStoreOption& o,
                                      os::ProcessRunner& runner) {
    auto resolve = [&](const std::string& s) {
        return s.find("://") != std::string::npos || s.starts_with("sqlite:")
                   ? s
                   : os::path_absolute(s, ctx.cwd);
    };
    if (!o.store.empty()) {
        return resolve(o.store);
    }
    if (!ctx.store.empty()) {
        return resolve(ctx.store);
    }
    auto top = app::git_toplevel(runner, ctx.cwd);
    if (!top) {
        return tl::unexpected(Error(Errc::invalid_argument,
                                    "which store? Give --store (a path or postgresql://...) or "
                                    "set SHIPSHAPE_STORE; inside a git working tree the default "
                                    "is .shipshape/ci.db there"));
    }
    if (auto st = os::make_local_file_system()->create_directories(*top + "/.shipshape"); !st) {
        return tl::unexpected(st.error());
    }
    return *top + "/.shipshape/ci.db";
}

Result<CiStoreHandle> open_ci_store(const Context& ctx, const CiStoreOption& o,
                                    store::Access access) {
    auto runner = os::make_process_runner();
    auto location = ci_store_location(ctx, o, *runner);
    if (!location) {
        return tl::unexpected(location.error());
    }
    auto store = store::open_store(*location, access);
    if (!store) {
        return tl::unexpected(store.error());
    }
    return CiStoreHandle{std::move(*location), std::move(*store)};
}

app::CiEnvironment ci_environment(const Context& ctx, const std::string& store_location) {
    (void)ctx;
    app::CiEnvironment env;
    env.shipshape_exe = os::self_exe();
    env.fault_exe = os::path_parent(env.shipshape_exe) + "/shipshape-fault";
    std::string base;
    std::string path =
        store_location.starts_with("sqlite:") ? store_location.substr(7) : store_location;
    if (path.find("://") == std::string::npos) {
        base = os::path_parent(path);
        env.images_dir = base + "/images";  // an ops repo's store: .shipshape/images beside it
    } else if (::geteuid() == 0) {
        base = "/var/lib/shipshape";
    } else if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state) {
        base = std::string(state) + "/shipshape";
    } else {
        base = std::string(std::getenv("HOME") ? std::getenv("HOME") : "/tmp") +
               "/.local/state/shipshape";
    }
    env.work_dir = base + "/ci-work";
    env.artifacts_dir = base + "/ci-artifacts";
    return env;
}

}  // namespace shipshape::cli
