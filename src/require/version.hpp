// Debian version ordering (epochs, upstream, revisions, '~'), and constraints such as
// ">= 3.0.9". The comparison is our own implementation of Debian Policy 5.6.12, not
// libapt-pkg's: linking libapt-pkg costs every shipshape process about 3 ms of dynamic
// loading (it pulls in libsystemd, libgcrypt and compressors), a third of the facts budget.
// Tests hold it to both `dpkg --compare-versions` and libapt-pkg (linked into the test only)
// on every version installed on the test machine plus generated ones.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace shipshape::require {

// <0, 0 or >0 as `a` sorts before, equal to or after `b` in Debian's ordering.
int compare_versions(std::string_view a, std::string_view b);

enum class Op { lt, le, eq, ne, ge, gt };

struct Constraint {
    Op op = Op::ge;
    std::string version;

    bool satisfied_by(std::string_view found) const;
    std::string text() const;  // ">= 3.0.9"
};

// Parses "OP VERSION" with OP one of < <= = != >= > (and dpkg's << >> too); a bare version
// means "=". Errc::invalid_argument says what was expected.
[[nodiscard]] Result<Constraint> parse_constraint(std::string_view text);

}  // namespace shipshape::require
