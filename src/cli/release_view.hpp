// Text and JSON renderings of releases, their stages' gates and sign-offs (cmd_release.cpp,
// cmd_sign_off.cpp, run --release). JSON documents have a "kind", as every --json document.
#pragma once

#include <string>
#include <vector>

#include "app/release_service.hpp"
#include "cli/context.hpp"

namespace shipshape::cli {

// "needs 1 more qa sign-off (have: carol@example.org); staging run not finished"
std::string missing_text(const release::GateReport& gate);

void print_release_created(const Context& ctx, const app::ReleaseCreated& created);
void print_release_status(const Context& ctx, const app::ReleaseStatus& status, bool offline);
void print_release_list(const Context& ctx, const std::vector<app::ReleaseStatus>& releases);
void print_sign_off(const Context& ctx, const app::SignOffDone& done);

// The JSON documents (release_json.cpp).
std::string json_release_created(const app::ReleaseCreated& created);
std::string json_release_status(const app::ReleaseStatus& status, bool offline,
                                const std::string& kind = "release");
std::string json_release_list(const std::vector<app::ReleaseStatus>& releases);
std::string json_sign_off(const app::SignOffDone& done);
std::string json_gate_refused(const std::string& release, const std::string& release_id,
                              const app::StageStatus& stage, int exit_code);

}  // namespace shipshape::cli
