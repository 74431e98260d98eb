// Patch or rebuild (issue #18, `shipshape image check`): how far a host has moved from an image,
// and what to do about it. Pure: the caller gathers the host's packages and drift count (facts,
// desired state) and reads the image record; nothing here touches a host or a file.
//
// Direction: the image is the reference. A host's package that the image lacks is an addition,
// one the image has and the host lacks is a removal, a version the host has newer than the
// image's is an upgrade (older: a downgrade). The recommendation is about the host:
//   none     no package delta and no drift;
//   patch    few changes, none of them to a package that cannot be changed in place: the plan
//            (package actions bringing the host back to the image, then the desired state's
//            apply) fixes it where it runs;
//   rebuild  more than `patch_max` package changes, or a change to a package matching one of
//            `rebuild_on` (libc, the kernel, ...): replace the host from a freshly built image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "image/image.hpp"

namespace shipshape::image {

// shipshape.toml [image]: the thresholds of the recommendation.
struct CheckPolicy {
    size_t patch_max = 20;  // package changes above which the answer is rebuild
    // Globs (fnmatch, on package names): a change to any of these packages means rebuild.
    std::vector<std::string> rebuild_on = {"libc6", "libc-bin", "linux-image-*", "systemd"};
};

enum class ChangeKind { upgrade, downgrade, addition, removal };
const char* change_kind_name(ChangeKind kind);

struct PackageChange {
    std::string name;  // "libc6", or "libc6:i386" for a foreign architecture
    ChangeKind kind = ChangeKind::upgrade;
    std::string image_version;  // "" for an addition
    std::string host_version;   // "" for a removal
};

struct PackageDelta {
    std::vector<PackageChange> changes;  // by name
    size_t count(ChangeKind kind) const;
};

// The packages of `host` against the image's (`image_architecture`: packages of it, of "all"
// and without one are named plainly, others get ":ARCH"). Versions compare as dpkg does.
PackageDelta package_delta(const std::vector<PackagePin>& image,
                           const std::vector<PackagePin>& host,
                           const std::string& image_architecture);

enum class Recommendation { none, patch, rebuild };
const char* recommendation_name(Recommendation r);

struct Verdict {
    Recommendation recommendation = Recommendation::none;
    std::vector<std::string> reasons;  // one line each, for people ("libc6 changed: rebuild_on")
};

// The recommendation for a host with `delta` and `drift` desired-state differences.
Verdict recommend(const PackageDelta& delta, size_t drift, const CheckPolicy& policy);

// The package half of a patch: the apt actions that bring the host back to the image, in the
// delta's order ("install nginx=1.24.0-1", "remove strace").
std::vector<std::string> package_actions(const PackageDelta& delta);

// Seconds from `created` (ISO 8601 UTC, "2026-12-07T10:00:00Z") to `now_ms`, never negative.
// Errc::invalid_argument when `created` is not such a time.
[[nodiscard]] Result<int64_t> image_age_seconds(const std::string& created, int64_t now_ms);

// "3d 4h", "5h 2m", "42s": an age for people.
std::string format_age(int64_t seconds);

}  // namespace shipshape::image
