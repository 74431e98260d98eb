// bundle_deb_manifests (agent_protocol.hpp): the one part of a bundle that reads .deb files
// (libarchive), kept out of fleet_service.cpp so that shipshape-agent, which links FleetService,
// links no libarchive.
#include "app/agent_protocol.hpp"
#include "package/manifest.hpp"
#include "package/read.hpp"

namespace shipshape::app {

std::vector<BundleFile> bundle_deb_manifests(const std::string& root,
                                             const std::vector<BundleFile>& files) {
    std::vector<const BundleFile*> debs;
    std::vector<std::string> paths;
    for (const auto& f : files) {
        if (f.path.ends_with(".deb") && f.data.starts_with("!<arch>\n")) {
            debs.push_back(&f);
            paths.push_back(root + "/" + f.path);
        }
    }
    std::vector<BundleFile> out;
    if (debs.empty()) {
        return out;
    }
    auto manifests = package::read_debs(paths);
    for (size_t i = 0; i < debs.size(); ++i) {
        if (manifests[i]) {
            out.push_back(BundleFile{bundle_deb_manifest_path(debs[i]->path), 0644,
                                     package::manifest_to_json(*manifests[i])});
        }
    }
    return out;
}

}  // namespace shipshape::app
