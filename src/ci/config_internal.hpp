// The pure checks and the matrix expansion of the CI definition, shared by the TOML adapter
// (config_toml.cpp) and config.cpp. Internal to the ci module.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ci/config.hpp"

namespace shipshape::ci::detail {

// At most this many cells per matrix job: a matrix is a handful of images times a handful of
// fault profiles, and a typo must not queue thousands of jobs.
inline constexpr size_t k_max_matrix_cells = 64;

// "" when `path` is a usable repo-relative path (or glob), else what is wrong with it, to
// follow "<where> '<path>': ". An empty path is the caller's business.
std::string repo_path_problem(std::string_view path);

// Job names and labels: 1-64 of A-Z a-z 0-9 _ . -
bool valid_job_name(std::string_view name);

// An image: "host", or the name or id of a built image: 1-128 of A-Z a-z 0-9 _ . - :
bool valid_image_ref(std::string_view image);

// A job as written, before its matrix is expanded: `job` holds the plain keys; a matrix axis
// that is set replaces the job's value in each cell.
struct JobDefinition {
    Job job;
    std::optional<std::vector<std::string>> matrix_image;
    std::optional<std::vector<std::string>> matrix_faults;
};

// "test[image=prod,faults=ci/disk.toml]": only the axes the matrix has, image first.
std::string cell_name(std::string_view base, const std::optional<std::string>& image,
                      const std::optional<std::string>& faults);

// One Job per combination (image outer, faults inner), or the job itself without a matrix.
std::vector<Job> expand(const JobDefinition& definition);

}  // namespace shipshape::ci::detail
