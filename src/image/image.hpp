// Production images (C11): the image spec (what production is), the on-disk image records
// (content-addressed root filesystems with lineage) and the pure comparisons built on them.
// Everything here is pure or reads/writes files under one images directory; building
// (mmdebstrap, state apply) and running (namespaces) happen in app/ and os/.
//
// On-disk layout, under a project's `.shipshape/images/` (the "images directory"):
//   bases/<key>/rootfs/       a package base: mmdebstrap's output, read-only once made;
//                             <key> = sha256 of (distribution, release, architecture, variant,
//                             sources, sorted name=version list). bases/<key>/base.json says so.
//   <id>/image.json           one image record (ImageRecord, below), written last and renamed
//                             into place: an image without image.json is not an image.
//   <id>/layer/               the image's own layer: what applying its desired state changed
//                             on top of the base, as an overlayfs upper directory (whiteouts
//                             are character devices 0:0, opaque directories carry the
//                             trusted.overlay.opaque xattr).
//   <id>                      = sha256 of the image's file manifest (base manifest + layer).
//   names/<name>              a text file holding the id the name points at (newest build).
// The root filesystem of image <id> is the overlay with lower dirs lower_dirs(record) (top
// first): the layer over the base rootfs. Nothing ever writes into either after the build.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace shipshape::image {

// Resource limits an environment's hosts have, applied to `image run`.
struct Limits {
    std::optional<uint64_t> memory_bytes;
    std::optional<double> cpus;
    std::optional<uint64_t> open_files;
};

struct PackagePin {
    std::string name;
    std::string version;
    std::string architecture;  // may be empty: the image's architecture
};

struct User {
    std::string name;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
    std::string home;
    std::string shell;
};

// An image spec file (docs/specs/image-format.md).
struct Spec {
    std::string name;
    std::string distribution = "debian";
    std::string release;                // suite or codename: "bookworm"
    std::string architecture;           // Debian's: "amd64"
    std::string variant = "essential";  // mmdebstrap's variant the pins go on top of
    bool lab = false;  // also install what a lab host needs (openssh-server, the agent's libraries)
    std::vector<std::string> sources;  // apt source lines; empty = this machine's apt sources
    std::vector<PackagePin> packages;  // sorted by name
    std::vector<std::string> roles;    // desired-state roles (shipshape.toml [roles]) to apply
    std::vector<User> users;
    Limits limits;
    // Where it came from (snapshot): hosts and the facts they were taken from.
    std::vector<std::string> hosts;
    std::string taken;  // ISO time of the snapshot
};

struct ImageRecord {
    std::string id;       // sha256 hex of the file manifest
    std::string name;     // the spec's name (or --name)
    std::string created;  // ISO time (SOURCE_DATE_EPOCH when set)
    std::string parent;   // the base key this image's layer sits on
    std::string spec;     // the spec file's path, relative to the ops repo
    std::string spec_sha256;
    std::string snapshot;  // the snapshot the spec came from: its hosts and time, or ""
    std::string release;
    std::string architecture;
    Limits limits;
    std::vector<PackagePin> packages;  // what dpkg says is installed in the image, by name
    std::vector<std::string> roles;
    uint64_t files = 0;       // entries in the manifest
    uint64_t bytes = 0;       // sum of regular files' sizes
    std::string dir;          // absolute path of <images>/<id> (not stored; filled when read)
    std::string base_rootfs;  // absolute path of the base's rootfs (not stored)
};

// The overlay lower directories of an image's root filesystem, top first.
std::vector<std::string> lower_dirs(const ImageRecord& image);

// Reads every registered image (directories with an image.json), newest first.
Result<std::vector<ImageRecord>> list_images(const std::string& images_dir);

// Finds an image by name (names/<name>), full id, or a unique id prefix of at least 6 hex
// digits. Errors name what was asked and what exists.
Result<ImageRecord> resolve_image(const std::string& images_dir, const std::string& ref);

}  // namespace shipshape::image
