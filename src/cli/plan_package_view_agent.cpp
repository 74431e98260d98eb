// shipshape-agent's plan_package_diff (plan_package_view.hpp): the agent reads no .deb (it links
// no libarchive: see docs/agent.md), so a [[package]] deb change of a plan names the package
// and where its contents diff can be seen, instead of the diff itself.
#include "cli/plan_package_view.hpp"

namespace shipshape::cli {

std::string plan_package_diff(const state::Change& c, const state::Resource& r,
                              const std::string& /*root*/, bool diffs, bool /*color*/) {
    if (!diffs || r.kind != state::Kind::package || r.deb.empty() || c.op != state::Op::package ||
        c.argv.empty() || !c.error.empty()) {
        return "";
    }
    return "    (the contents diff of " + r.deb +
           ": `shipshape package diff` on the controller; the host agent reads no .deb)\n";
}

}  // namespace shipshape::cli
