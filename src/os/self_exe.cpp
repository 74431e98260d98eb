#include "os/self_exe.hpp"

#include <limits.h>
#include <unistd.h>

namespace shipshape::os {

std::string self_exe() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace shipshape::os
