// The overlay launcher of image build: `unshare --mount` gives the command a private mount
// namespace where the layer is mounted; nothing is mounted where anyone else can see it, and
// the mount goes away with the command. Paths reach the shell as positional parameters, never
// as code.
#include <unistd.h>

#include "cli/image_cmds.hpp"

namespace shipshape::cli {

namespace {

// overlayfs separates lower dirs with ':' and options with ','.
bool mountable(const std::string& p) {
    return p.find_first_of(":,\n") == std::string::npos;
}

// Passes the command's output on to our stderr (build progress).
struct PassOn final : os::OutputSink {
    void on_output(std::string_view chunk) override {
        std::fwrite(chunk.data(), 1, chunk.size(), stderr);
    }
};

}  // namespace

app::OverlayExec overlay_exec(os::ProcessRunner& runner) {
    return [&runner](const std::vector<std::string>& lowers, const std::string& upper,
                     const std::string& work, const std::string& merged,
                     const std::vector<std::string>& argv, const std::string& cwd) -> Result<int> {
        std::string lowerdir;
        for (const auto& l : lowers) {
            if (!mountable(l)) {
                return fail(Errc::invalid_argument,
                            "cannot mount an overlay of " + l + ": the path holds ':' or ','");
            }
            lowerdir += (lowerdir.empty() ? "" : ":") + l;
        }
        for (const auto* p : {&upper, &work, &merged}) {
            if (!mountable(*p)) {
                return fail(Errc::invalid_argument,
                            "cannot mount an overlay at " + *p + ": the path holds ':' or ','");
            }
        }
        if (::geteuid() != 0) {
            return fail(Errc::unsupported,
                        "applying an image's users and roles mounts an overlay, which needs "
                        "root here; run image build as root, or leave roles and users out");
        }
        os::ProcessSpec spec;
        const std::string script =
            "mount -t overlay -o \"lowerdir=$1,upperdir=$2,workdir=$3\" shipshape-layer \"$4\" "
            "&& shift 4 && exec \"$@\"";
        spec.argv = {"unshare", "--mount", "--propagation", "private", "--", "sh",  "-c",
                     script,    "sh",      lowerdir,        upper,     work, merged};
        spec.argv.insert(spec.argv.end(), argv.begin(), argv.end());
        spec.cwd = cwd;
        spec.errors = os::Stderr::merged;
        PassOn sink;
        auto outcome = runner.run(spec, sink, nullptr);
        if (!outcome) {
            return fail(outcome.error());
        }
        return outcome->kind == os::ExitKind::exited ? outcome->code : 128 + outcome->code;
    };
}

}  // namespace shipshape::cli
