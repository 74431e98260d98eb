// SHIPSHAPE_ASSERT: an always-on check for programming errors. A failed assertion prints the
// condition and location to stderr and aborts; it is never used for bad input.
#pragma once

namespace shipshape::detail {
[[noreturn]] void assert_failed(const char* condition, const char* file, int line);
}

#define SHIPSHAPE_ASSERT(cond)                                             \
    do {                                                                   \
        if (!(cond)) {                                                     \
            ::shipshape::detail::assert_failed(#cond, __FILE__, __LINE__); \
        }                                                                  \
    } while (false)
