// `shipshape image check HOSTS --against IMAGE` as a use case: for each host, its package delta
// against the image's package list, its desired-state drift count, and the patch-or-rebuild
// verdict (image/check.hpp) under the thresholds of shipshape.toml's [image] table.
//
// Where the data comes from: live, a host's packages from its facts (FactsService: this machine
// in-process, remote hosts through their agents) and its drift from the desired state (this
// machine planned in-process, remote hosts' agents describing themselves, as `drift --env
// --against` does). A remote host out of reach, or every host with `saved`, is checked from what
// the store last saw: its newest facts snapshot and drift report (`drift --save`); the result
// names the source. Prints nothing; one service per command, used from one thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/facts_service.hpp"
#include "app/image_check_policy.hpp"
#include "app/project.hpp"
#include "app/state_service.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "image/check.hpp"
#include "image/image.hpp"
#include "store/store.hpp"

namespace shipshape::app {

struct ImageCheckRequest {
    std::vector<std::string> patterns;  // host patterns (select_hosts)
    std::string against;                // an image name, id or id prefix
    bool saved = false;                 // every host from the store, none live
};

struct HostImageCheck {
    std::string host;
    std::string source;          // "live" or "stored"
    std::optional<Error> error;  // the host could not be checked: nothing below is set
    image::PackageDelta delta;
    std::optional<size_t> drift;  // none: unknown (no desired-state report for a stored host)
    image::Verdict verdict;
    // A patch's plan: the package actions, then the desired state's changes (this machine) or
    // how to see them (remote hosts), then the apply. Empty unless the verdict is patch.
    std::vector<std::string> plan;
    std::vector<std::string> notes;  // e.g. why a host was checked from the store
};

struct ImageCheckReport {
    image::ImageRecord image;
    int64_t age_seconds = 0;
    image::CheckPolicy policy;
    std::vector<HostImageCheck> hosts;  // in the order the patterns select them
};

class ImageCheckService {
  public:
    // `store` may be null (no stored fallback); `fleet` may be null (remote hosts fail, or
    // come from the store); `runner` runs the desired state's guards while planning.
    ImageCheckService(const Project& project, store::Store* store, FleetService* fleet,
                      os::ProcessRunner* runner, const os::CancelSource* cancel,
                      const Clock& clock = system_clock());

    // Checks every host. Fails as a whole for an unknown image (resolve_image's error),
    // patterns that match nothing, a bad [image] table or created time; per-host problems are
    // in HostImageCheck::error.
    [[nodiscard]] Result<ImageCheckReport> check(const ImageCheckRequest& request);

  private:
    const Project& m_project;
    store::Store* m_store;
    FleetService* m_fleet;
    os::ProcessRunner* m_runner;
    const os::CancelSource* m_cancel;
    const Clock& m_clock;
};

}  // namespace shipshape::app
