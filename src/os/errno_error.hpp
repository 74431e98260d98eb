// The one place errno becomes a shipshape::Error, so every OS failure reads the same way:
// "<context>: <strerror text>" with a code that callers can act on.
#pragma once

#include <string_view>

#include "core/error.hpp"

namespace shipshape::os {

// Maps `err` (an errno value) to an Errc and returns "<context>: <description>".
Error errno_error(std::string_view context, int err);

}  // namespace shipshape::os
