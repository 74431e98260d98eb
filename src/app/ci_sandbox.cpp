// `ci sandbox` (ci_service.hpp): one process of a CI job in a container whose only writable
// places are the job's workspace and a private /tmp.
#include "app/ci_service.hpp"
#include "image/image.hpp"

namespace shipshape::app {

os::ContainerSpec ci_sandbox_spec(const CiSandboxOptions& o, std::vector<std::string> lower_dirs) {
    os::ContainerSpec spec;
    spec.lower_dirs = std::move(lower_dirs);
    spec.network = o.network;
    spec.hostname = "ci";
    // /tmp first: a workspace below /tmp is then bound over it, not hidden by it.
    if (!o.tmp_dir.empty()) {
        spec.binds.push_back({o.tmp_dir, "/tmp", false});
    }
    spec.binds.push_back({o.workspace, o.workspace, false});
    spec.argv = o.argv;
    spec.env = o.env;
    // The workspace has the same path inside; another directory exists inside only when the
    // root is this machine's.
    bool in_workspace = o.cwd == o.workspace || o.cwd.starts_with(o.workspace + "/");
    spec.cwd =
        (in_workspace || (o.image == ci::k_host_image && !o.cwd.empty())) ? o.cwd : o.workspace;
    return spec;
}

Result<int> run_ci_sandbox(const CiSandboxOptions& o) {
    if (o.workspace.empty() || o.workspace[0] != '/') {
        return tl::unexpected(
            Error(Errc::invalid_argument,
                  "--workspace must be an absolute path, not '" + o.workspace + "'"));
    }
    if (o.argv.empty()) {
        return tl::unexpected(Error(Errc::invalid_argument, "no command given after --"));
    }
    std::vector<std::string> lower{"/"};
    if (o.image != ci::k_host_image) {
        auto record = image::resolve_image(o.images_dir, o.image);
        if (!record) {
            return tl::unexpected(record.error());
        }
        lower = image::lower_dirs(*record);
    }
    return os::run_container(ci_sandbox_spec(o, std::move(lower)));
}

}  // namespace shipshape::app
