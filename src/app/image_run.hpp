// `image run`: a command in an image's root filesystem (os::run_container over the image's
// lower dirs, a throwaway tmpfs upper), so the image itself is never modified.
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"
#include "image/image.hpp"
#include "os/container.hpp"

namespace shipshape::app {

// The images directory of the ops repo rooted at `root`: <root>/.shipshape/images.
std::string images_dir(const std::string& root);

enum class ImageLimits { image, none };  // the image's recorded limits, or none

struct ImageRunOptions {
    std::string image;  // name, id or id prefix
    ImageLimits limits = ImageLimits::image;
    os::ContainerNetwork network = os::ContainerNetwork::none;
    std::string hostname;  // empty: the image's name (or "image")
    std::vector<os::BindMount> binds;
    std::vector<std::string> argv;
    // Added to the command's environment after PATH, HOME and LANG (e.g. TERM from the caller).
    std::vector<std::string> env;
};

// The container spec for running `o` in `image` (pure, for tests).
os::ContainerSpec image_container_spec(const image::ImageRecord& image, const ImageRunOptions& o);

// Parses "SRC:DST" (read-only) or "SRC:DST:rw". Errc::invalid_argument otherwise.
[[nodiscard]] Result<os::BindMount> parse_bind(const std::string& text);

// Resolves the image and runs the command; returns its shell status (code, or 128+signal).
// Errors: resolve_image's (Errc::not_found), run_container's (Errc::unsupported…).
[[nodiscard]] Result<int> run_in_image(const std::string& images_dir, const ImageRunOptions& o);

}  // namespace shipshape::app
