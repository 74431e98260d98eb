#include "app/fault_service.hpp"

#include <unistd.h>

#include "app/project.hpp"
#include "os/file_system.hpp"
#include "os/process.hpp"

namespace shipshape::app {

namespace {

bool exists(const std::string& path) {
    return ::access(path.c_str(), F_OK) == 0;
}

}  // namespace

Result<std::string> FaultService::profile_path(const FaultRequest& request,
                                               const std::string& name) const {
    // Kept as written (relative to the working directory), so messages name it as the user did.
    if (exists(os::path_absolute(name, request.cwd)) || name.find('/') != std::string::npos ||
        name.ends_with(".toml")) {
        return name;
    }
    std::string root;
    if (!request.directory.empty()) {
        root = os::path_absolute(request.directory, request.cwd);
    } else {
        auto found = find_project_root(request.cwd);
        if (!found) {
            return fail(Errc::not_found, "fault profile '" + name +
                                             "': no such file, and no ops repo to look in (" +
                                             found.error().message() + ")");
        }
        root = *found;
    }
    std::string path = root + "/faults/" + name + ".toml";
    if (!exists(path)) {
        return fail(Errc::not_found, "fault profile '" + name + "': no such file " + path);
    }
    return path;
}

Result<std::vector<faults::Fault>> FaultService::collect(const FaultRequest& request) const {
    std::vector<faults::Fault> all;
    for (const auto& name : request.profiles) {
        auto path = profile_path(request, name);
        if (!path) {
            return fail(path.error());
        }
        auto profile = faults::load_profile(*path);
        if (!profile) {
            return fail(profile.error());
        }
        all.insert(all.end(), profile->faults.begin(), profile->faults.end());
    }
    for (const auto& [kind, value] : request.flags) {
        auto f = faults::parse_fault_flag(kind, value);
        if (!f) {
            return fail(f.error());
        }
        all.push_back(std::move(*f));
    }
    if (!request.reset_after.empty() || !request.port.empty()) {
        if (request.reset_after.empty() || request.port.empty()) {
            return fail(Errc::invalid_argument,
                        "--reset-after BYTES and --port PORT go together: connections to or "
                        "from PORT are reset after BYTES");
        }
        auto f = faults::parse_fault_flag(faults::FaultKind::reset_after,
                                          request.reset_after + ":" + request.port);
        if (!f) {
            return fail(f.error());
        }
        all.push_back(std::move(*f));
    }
    if (auto st = faults::validate_faults(all); !st) {
        return fail(st.error());
    }
    return all;
}

Result<FaultRun> FaultService::run(const std::vector<faults::Fault>& faults,
                                   const std::vector<std::string>& command,
                                   const os::CancelSource* cancel) const {
    faults::SandboxOptions options;
    options.cancel_fd = cancel ? cancel->fd() : -1;
    auto sandbox = faults::Sandbox::start(faults, options);
    if (!sandbox) {
        return fail(sandbox.error());
    }
    FaultRun run;
    // A stop asked during set-up: nothing is started, the report says so by having no command.
    if (!command.empty() && !(cancel && cancel->cancelled())) {
        auto outcome = (*sandbox)->run(command);
        if (!outcome) {
            (void)(*sandbox)->finish();
            return fail(outcome.error());
        }
        run.status = outcome->shell_status();
    }
    auto report = (*sandbox)->finish();
    if (!report) {
        return fail(report.error());
    }
    run.report = std::move(*report);
    run.interrupted = cancel && cancel->cancelled();
    return run;
}

faults::CleanupReport FaultService::cleanup() const {
    return faults::cleanup_leftovers();
}

}  // namespace shipshape::app
