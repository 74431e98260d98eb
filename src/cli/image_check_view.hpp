// image check's output: a table per host for people, one JSON document for scripts.
#pragma once

#include <string>

#include "app/image_check.hpp"

namespace shipshape::cli {

// The text report: the image and its age, then per host its recommendation, why, the delta
// and (for patch) the plan.
std::string format_image_check(const app::ImageCheckReport& report);

// {"image": {...}, "policy": {...}, "hosts": [{"host", "source", "recommendation", "reasons",
// "packages": {"upgrades", "downgrades", "additions", "removals"}, "drift", "plan", "notes"}],
// "exit_code"}; a host that could not be checked has "error" instead of the verdict.
std::string json_image_check(const app::ImageCheckReport& report, int exit_code);

// 0 when every host is `none`, 1 when any needs a patch or rebuild; a host that could not be
// checked makes it at least that error's code.
int image_check_exit_code(const app::ImageCheckReport& report);

}  // namespace shipshape::cli
