// The libapt-pkg adapter: the only file that includes apt-pkg headers.
#include <apt-pkg/debversion.h>

#include "require/version.hpp"

namespace shipshape::require {

int compare_versions(std::string_view a, std::string_view b) {
    return debVS.DoCmpVersion(a.data(), a.data() + a.size(), b.data(), b.data() + b.size());
}

}  // namespace shipshape::require
