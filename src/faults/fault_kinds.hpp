// The table of fault kinds, one row per kind: its name (flag, profile `kind`, report), its
// flag's syntax and help, whether it takes a time window, how many of it a sandbox may hold,
// the profile keys that make up its value, and the pure functions that parse, format and
// describe that value. parse_fault_flag, format_fault_value, describe_fault, validate_faults,
// the profile reader and the command line all read this table; none switches on the kind.
//
// The kernel mechanism behind each kind (set-up, on/off, counters for the report) is the
// second table, in the engine (mechanisms.hpp). It is kept apart so that this one stays pure
// and free of the kernel libraries: `shipshape validate` checks profiles with it.
//
// A new kind: a FaultKind value, a row here (k_kinds in fault_kinds.cpp), a row in the
// mechanism table.
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "faults/fault.hpp"

namespace shipshape::faults {

// How the kind appears on the command line.
enum class FlagStyle {
    value,      // --NAME VALUE
    bare,       // --NAME (no value)
    with_port,  // --NAME VALUE --port PORT, joined as "VALUE:PORT" (reset-after)
};

// How many faults of the kind one sandbox may hold.
enum class Scope {
    many,
    one_per_sandbox,  // process-wide: a second would contradict the first
    one_per_path,     // a file-system layer per path
};

// One profile key and the text that goes before its value in the flag text (a profile's
// [[fault]] table is turned into flag text, so both parse the same way).
struct ProfileKey {
    std::string_view before;  // "", "/", ":", "+-"
    std::string_view key;     // empty: unused slot
    bool required = false;
};

struct KindSpec {
    FaultKind kind;
    std::string_view name;  // "block-port": the flag without dashes, a profile's kind
    FlagStyle flag_style;
    std::string_view flag_syntax;  // "PORT[/tcp|udp][:reject|drop]", for --help
    std::string_view flag_help;
    bool has_timeline;  // may take an @START-STOP window
    Scope scope;
    std::array<ProfileKey, 3> profile;
    // `body` is the flag text without its window; `f` has the kind set. Errc::invalid_argument
    // naming the flag and what was expected.
    Result<Fault> (*parse)(Fault f, std::string_view body, std::string_view text);
    std::string (*format)(const Fault& f);    // the flag text, without the window
    std::string (*describe)(const Fault& f);  // for people, without the window
};

std::span<const KindSpec> fault_kinds();
const KindSpec& kind_spec(FaultKind kind);

// "--NAME 'TEXT': expected EXPECTED", the error every kind's parser gives.
tl::unexpected<Error> bad_flag(FaultKind kind, std::string_view text, std::string_view expected);

}  // namespace shipshape::faults
