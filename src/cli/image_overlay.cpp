// The overlay launcher of image build: os::run_container with `mount_at`, so the layer is
// mounted over the base in the command's own mount namespace (nothing is mounted where
// anyone else can see it, and the mount goes away with the command) while the command keeps
// this machine's root, where shipshape and useradd live.
#include "cli/image_cmds.hpp"
#include "os/container.hpp"

extern char** environ;

namespace shipshape::cli {

app::OverlayExec overlay_exec(os::ProcessRunner& /*runner*/) {
    return [](const std::vector<std::string>& lowers, const std::string& upper,
              const std::string& work, const std::string& merged,
              const std::vector<std::string>& argv, const std::string& cwd) -> Result<int> {
        os::ContainerSpec spec;
        spec.lower_dirs = lowers;
        spec.upper_dir = upper;
        spec.work_dir = work;
        spec.mount_at = merged;
        spec.network = os::ContainerNetwork::host;
        spec.argv = argv;
        for (char** e = environ; e && *e; ++e) {
            spec.env.emplace_back(*e);
        }
        spec.cwd = cwd;
        return os::run_container(spec);
    };
}

}  // namespace shipshape::cli
