#include "core/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace shipshape::detail {

void assert_failed(const char* condition, const char* file, int line) {
    std::fprintf(stderr, "shipshape: internal error: assertion '%s' failed at %s:%d\n", condition,
                 file, line);
    std::abort();
}

}  // namespace shipshape::detail
