// The manifest's JSON pieces that other JSON adapters of the package module reuse, so that a
// file entry reads the same in a manifest, a diff and an inspection (docs/specs/manifest.md).
// Only the forward declarations of nlohmann/json: include this from *_json.cpp files.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "package/manifest.hpp"

namespace shipshape::package {

// An entry as in the manifest's `files[]`: path, type, size and sha256 (files), mode, owner,
// group, target (links), modified_locally (when set).
nlohmann::ordered_json entry_to_json(const Entry& e);

}  // namespace shipshape::package
