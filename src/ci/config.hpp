// The CI definition (#19): `.shipshape-ci.toml` at the root of an application's repository,
// as a value. Pure: parse_ci_config takes the text, the caller reads the file (from the working
// tree, or `git show COMMIT:.shipshape-ci.toml` in a bare repository). The format is
// docs/specs/ci-format.md.
//
// Every problem is reported at once, as one Errc::invalid_definition whose message has one
// "file:line:col: message" line per problem, in file order, like checklists and state files.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/duration.hpp"
#include "core/error.hpp"

namespace shipshape::ci {

inline constexpr std::string_view k_config_file = ".shipshape-ci.toml";
// The image that runs a job in a clean sandbox on the worker's own root filesystem.
inline constexpr std::string_view k_host_image = "host";

enum class JobNetwork { none, host };  // a network namespace with only lo, or the worker's

// One job as it runs: a matrix cell is one Job of its own (its name says which cell).
struct Job {
    std::string name;       // "test", or "test[image=prod,faults=ci/disk.toml]" for a cell
    std::string base_name;  // the [job.NAME] it came from
    SourcePos pos;          // of its [job.NAME] table
    std::string checklist;  // repo-relative path of an ordinary checklist file (required)
    std::string image{k_host_image};  // "host" or the name (or id) of a built image
    std::string faults;               // repo-relative fault profile every step runs under; "" none
    std::string requirements;         // repo-relative requirements.toml checked first; "" none
    std::vector<std::string> artifacts;  // repo-relative globs kept after the job
    std::string junit;                   // repo-relative glob of JUnit XML files; "" none
    std::vector<std::string> labels;     // a worker must have them all
    std::vector<std::pair<std::string, std::string>> params;  // [job.X.params], checklist params
    JobNetwork network = JobNetwork::none;
    Millis timeout{0};  // the whole job; 0: none (steps keep their own timeouts)
};

struct Config {
    std::vector<Job> jobs;  // in file order; matrix cells in matrix order
    // The job names a plain `ci run` and a push run (all, unless [ci] default = [...]).
    std::vector<std::string> default_jobs;
};

// Parses and validates. `path` is used in messages only. Checks: known keys only (a close
// spelling suggested), types, a required `checklist`, relative paths that stay inside the repo
// (no "..", not absolute), job names of [A-Za-z0-9_.-], `matrix` keys image and faults with
// non-empty string arrays (a cell per combination), durations, network "none" or "host".
[[nodiscard]] Result<Config> parse_ci_config(std::string_view text, std::string_view path);

// The jobs `names` select: a job name selects itself, a base name selects all its matrix cells.
// Empty `names`: config.default_jobs. Errc::not_found naming an unknown name and the known ones.
[[nodiscard]] Result<std::vector<Job>> select_jobs(const Config& config,
                                                   const std::vector<std::string>& names);

}  // namespace shipshape::ci
