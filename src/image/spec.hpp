// The image spec file (docs/specs/image-format.md): reading it with positioned errors, writing
// it back (what `image snapshot` produces), and the names it accepts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "image/image.hpp"

namespace shipshape::image {

// Image names: 1-64 of [a-z0-9-_.], starting with a letter or digit.
bool valid_image_name(std::string_view name);

// Parses an image spec. Every problem is reported at once, as "file:line:col: message"
// (Errc::invalid_definition): unknown keys, wrong types, bad names or versions, duplicates.
[[nodiscard]] Result<Spec> parse_spec(std::string_view text, std::string_view path);

// A package the hosts of a snapshot disagree on: the spec pins the majority's version and
// lists the others as comments.
struct Dissent {
    std::string package;
    std::vector<std::pair<std::string, std::string>> others;  // (host, version or "absent")
};

// Renders a spec as TOML that parse_spec reads back to the same Spec. `header` lines become
// comments at the top; dissents become comments beside their packages.
std::string render_spec(const Spec& spec, const std::vector<std::string>& header,
                        const std::vector<Dissent>& dissents);

}  // namespace shipshape::image
