// The releases read model of the dashboard (GET /api/v1/releases, docs/specs/api.md): every
// release record of the ops repo with its status (app::ReleaseService::status), in board order,
// and the project's stages, so that a board of releases by stage has its columns even when no
// release exists yet.
#pragma once

#include <string>
#include <vector>

#include "app/project.hpp"
#include "app/release_service.hpp"
#include "core/error.hpp"

namespace shipshape::server {

struct ReleasesView {
    const std::vector<release::Stage>* stages = nullptr;  // the project's, earliest first
    // Grouped by name: the names ordered by their newest record (newest first), and within a
    // name its records newest first, so a name's current id (superseded_by empty) leads.
    std::vector<app::ReleaseStatus> releases;
};

// Reads every release record and computes its status. Errc::invalid_definition (a bad
// allowed_signers, signers.toml or release record, with file:line:col) and the store's errors
// pass through.
[[nodiscard]] Result<ReleasesView> compute_releases(const app::Project& project,
                                                    app::ReleaseService& service);

// Orders `releases` as ReleasesView::releases says (stable for equal times: by id).
void order_releases(std::vector<app::ReleaseStatus>& releases);

std::string json_releases(const ReleasesView& view);

}  // namespace shipshape::server
