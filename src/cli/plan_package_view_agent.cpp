// shipshape-agent's plan_deb_manifest (plan_package_view.hpp). The agent reads no .deb (it links
// no libarchive: see docs/agent.md). The controller sends the manifest of each .deb of the ops
// repo in the bundle (app::bundle_deb_manifest_path), so a plan run through `shipshape plan HOST`
// still shows the package diff against what this host has installed. Where the repo came
// another way (pull mode's git checkout) there is none, and the plan says where to see the diff.
#include "app/agent_protocol.hpp"
#include "cli/plan_package_view.hpp"
#include "os/file_system.hpp"

namespace shipshape::cli {

Result<package::Manifest> plan_deb_manifest(const state::Change& c, const state::Resource& r) {
    const std::string& deb = c.argv.front();  // SOURCE_ROOT/r.deb
    std::string suffix = "/" + r.deb;
    if (!deb.ends_with(suffix)) {
        return fail(Errc::not_found, "no manifest of " + r.deb);
    }
    std::string root = deb.substr(0, deb.size() - suffix.size());
    std::string path = root + "/" + app::bundle_deb_manifest_path(r.deb);
    auto text = os::make_local_file_system()->read_file(path);
    if (!text) {
        return fail(text.error().code(),
                    "this host's agent reads no .deb, and the controller sent no manifest of " +
                        r.deb + " (the repo came by git?): `shipshape package diff " + r.deb + " " +
                        c.path + "@HOST` on a controller shows it");
    }
    return package::parse_manifest_json(*text, path);
}

}  // namespace shipshape::cli
