// The JSON of `shipshape --json package build`.
#include <nlohmann/json.hpp>

#include "package/build.hpp"

namespace shipshape::package {

std::string build_result_json(const BuildResult& result) {
    nlohmann::ordered_json j;
    j["deb"] = result.deb_path;
    j["manifest"] = result.manifest_path;
    j["manifest_sha256"] = manifest_sha256(result.manifest);
    j["package"] = result.manifest.package;
    j["version"] = result.manifest.version;
    j["architecture"] = result.manifest.architecture;
    j["files"] = result.manifest.files.size();
    return j.dump();
}

}  // namespace shipshape::package
