// The path of the running executable, for starting another copy of it (or a binary installed
// beside it): the target of /proc/self/exe.
#pragma once

#include <string>

namespace shipshape::os {

// The absolute path of this process's executable, or "" when /proc is not mounted (or the
// link cannot be read).
std::string self_exe();

}  // namespace shipshape::os
