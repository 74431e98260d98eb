// Reading and writing image records under an images directory (layout: image.hpp).
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"
#include "image/image.hpp"

namespace shipshape::image {

std::string record_json(const ImageRecord& r);
// Reads an image.json; `dir` is the image's directory (fills dir and base_rootfs).
[[nodiscard]] Result<ImageRecord> parse_record(const std::string& text, const std::string& dir,
                                               const std::string& images_dir);

// Points `name` at `id` (names/<name>, replaced atomically).
[[nodiscard]] Result<void> set_name(const std::string& images_dir, const std::string& name,
                                    const std::string& id);
// The names pointing at `id`.
std::vector<std::string> names_of(const std::string& images_dir, const std::string& id);

// Removes an image: its names first, then image.json (from then on it is not listed), then
// its directory; then its base when no other image sits on it. Returns what it removed.
[[nodiscard]] Result<std::vector<std::string>> remove_image(const std::string& images_dir,
                                                            const ImageRecord& image);

bool is_image_id(const std::string& s);

}  // namespace shipshape::image
