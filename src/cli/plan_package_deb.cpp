// shipshape's plan_deb_manifest (plan_package_view.hpp): the .deb itself.
#include "cli/plan_package_view.hpp"
#include "package/read.hpp"

namespace shipshape::cli {

Result<package::Manifest> plan_deb_manifest(const state::Change& c, const state::Resource& /*r*/) {
    return package::read_deb(c.argv.front());
}

}  // namespace shipshape::cli
