// What a [[package]] deb change of a plan will change on the box: the package diff between the
// version installed under the plan's root and the .deb of the ops repo, as `package diff` prints
// it (everything, folded, as plan shows file diffs; the summary only with plan --no-diff). The
// state module knows nothing of packages' contents; this view reads both sides
// (package::read_installed, and plan_deb_manifest) when it prints the plan. A remote host's agent
// prints its own plan, so the diff is of that host.
#pragma once

#include <string>

#include "core/error.hpp"
#include "package/manifest.hpp"
#include "state/model.hpp"
#include "state/plan.hpp"

namespace shipshape::cli {

// The diff text for change `c` of resource `r`, each line indented by four spaces; empty for
// any other change. A side that cannot be read gives one line naming the error (the plan itself
// stands). A package not installed under `root` is compared with nothing: every file is added.
std::string plan_package_diff(const state::Change& c, const state::Resource& r,
                              const std::string& root, bool diffs, bool color);

// The manifest of the .deb that change `c` installs. Each binary has its own:
// `shipshape` reads the .deb (plan_package_deb.cpp); `shipshape-agent`, which reads no .deb,
// reads the manifest the controller sent beside it in the ops repo bundle
// (plan_package_view_agent.cpp).
[[nodiscard]] Result<package::Manifest> plan_deb_manifest(const state::Change& c,
                                                          const state::Resource& r);

}  // namespace shipshape::cli
