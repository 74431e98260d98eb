// Helpers shared by image_build.cpp (the package base) and image_layer.cpp (the layer and the
// record); internal to app/.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "app/project.hpp"
#include "image/image.hpp"

namespace shipshape::app::image_tools {

// "2026-12-07T17:13:05Z"
std::string iso_utc(int64_t seconds);
double seconds_since(std::chrono::steady_clock::time_point t0);
// A fresh tmp-<pid>-<n> path under `dir` (what clean-up after a killed build looks for).
std::string tmp_name(const std::string& dir);
// dpkg's installed packages of a root, by name.
std::vector<image::PackagePin> installed_in(const std::string& rootfs);
std::string join(const std::vector<std::string>& v, const std::string& sep);
std::string as_host_json(const Project& project, const image::Spec& spec);

}  // namespace shipshape::app::image_tools
