// GET /api/v1/environments: the inventory's hosts by environment, with what the store knows of
// each (docs/specs/api.md, "Environments"). Computed on every request:
//   version      -- the `version` parameter of the host's last apply (HostStore::applied_params);
//                   else, when shipshape.toml names `package`, that package's version in the
//                   host's latest facts; else "unknown". `version_source` says which.
//   facts_age_s  -- seconds since the host's latest facts snapshot (null: none saved);
//   drift        -- from the host's latest saved state report (`drift --save`): "clean",
//                   "N differences", or "unknown" (no report, or one older than the count);
//   requirements -- requirements.toml (at the repo root) checked against the latest facts:
//                   "pass", "fail" (a requirement not met), or "unknown" (no file, no facts, or
//                   a requirement the facts cannot answer, such as a path); `requirements_detail`
//                   says why.
// Reads only the store and requirements.toml; never reaches a host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "app/project.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

namespace shipshape::server {

struct HostStatus {
    std::string host;
    std::string env;  // "" for a host no environment lists
    std::string version = "unknown";
    std::string version_source;  // "apply", "facts" or ""
    std::optional<int64_t> facts_at_ms;
    std::optional<int64_t> facts_age_s;
    std::string drift = "unknown";
    std::optional<int64_t> drift_at_ms;
    std::string requirements = "unknown";
    std::string requirements_detail;
};

struct EnvironmentsView {
    std::string project;                    // shipshape.toml's name, for the page's title
    std::vector<std::string> environments;  // inventory order
    std::vector<HostStatus> hosts;          // by environment, then the inventory's host order
};

// Errc::store when the store cannot be read. A requirements.toml that does not parse makes
// every host's requirements "unknown" with the parser's message, not an error.
[[nodiscard]] Result<EnvironmentsView> compute_environments(const app::Project& project,
                                                            store::HostStore& store,
                                                            int64_t now_ms);

std::string json_environments(const EnvironmentsView& view);

}  // namespace shipshape::server
