// Production images (C11) as use cases: a spec from hosts' facts (snapshot), a root
// filesystem from a spec (build: mmdebstrap for the package base, cached by its package set,
// then the spec's users and desired state applied as an overlay layer on top), and removal.
// Records live under the project's .shipshape/images (layout: image/image.hpp).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/facts_service.hpp"
#include "app/project.hpp"
#include "core/error.hpp"
#include "image/image.hpp"
#include "image/spec.hpp"
#include "os/process.hpp"

namespace shipshape::app {

std::string images_dir(const Project& project);

// Debian's name for a kernel machine name ("x86_64" -> "amd64"); "" when unknown.
std::string debian_architecture(const std::string& machine);

struct SnapshotOptions {
    std::string name;               // the image name (default: the output file's stem)
    std::vector<std::string> keep;  // globs: pin only packages matching one (empty: all)
    bool lab = true;                // the spec's `lab` flag
    std::string taken;              // ISO time of the snapshot
};

struct Snapshot {
    image::Spec spec;
    std::vector<image::Dissent> dissents;
    std::vector<std::string> header;  // comment lines for the file
};

// A spec from gathered facts (hosts that failed are named in the error, unless some
// succeeded: then in the header). Pure, for tests. Packages: those installed on more than half
// the hosts, at their most common version (the newest of a tie); the rest are dissents.
// Limits: the smallest memory, CPUs and open files among the hosts (cgroup limits first).
// Roles: every role the inventory gives the hosts.
[[nodiscard]] Result<Snapshot> snapshot_from_facts(const Project& project,
                                                   const std::vector<HostFactsResult>& hosts,
                                                   const SnapshotOptions& options);

// Runs a command over an overlay: `lowers` (top first) read-only, `upper` receiving every
// change, mounted at `merged` in a private mount namespace that only the command sees.
// Returns the command's shell status. Provided by os/ (container launcher); a seam for tests.
using OverlayExec = std::function<Result<int>(
    const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
    const std::string& merged, const std::vector<std::string>& argv, const std::string& cwd)>;

struct BuildOptions {
    std::string spec_path;         // as given (relative to cwd or absolute)
    std::string name;              // overrides the spec's name
    bool no_cache = false;         // build the package base again even when cached
    std::vector<std::string> set;  // k=v passed to the state apply as --set
    std::string self_exe;  // the shipshape binary that applies the state (default /proc/self/exe)
    std::function<void(const std::string&)> progress;  // one line at a time
};

struct BuildResult {
    image::ImageRecord image;
    bool base_cached = false;            // the package base was reused
    bool existed = false;                // an identical image was already registered
    std::optional<bool> base_identical;  // --no-cache on a cached base: same manifest?
    double base_seconds = 0;
    double layer_seconds = 0;
};

class ImageService {
  public:
    ImageService(const Project& project, os::ProcessRunner& runner, OverlayExec overlay)
        : m_project(project), m_runner(runner), m_overlay(std::move(overlay)) {}

    [[nodiscard]] Result<BuildResult> build(const BuildOptions& options);

    // Removes an image unless a lab uses it (Errc::conflict naming the lab's hosts).
    [[nodiscard]] Result<std::vector<std::string>> remove(const std::string& ref);

  private:
    [[nodiscard]] Result<BuildResult> build_layer(
        const image::Spec& spec, const std::string& spec_file, const std::string& spec_text,
        const std::vector<std::string>& state_files, const std::string& base_key,
        const std::string& base_manifest, int64_t now, bool clamp, const BuildOptions& options,
        BuildResult result);

    const Project& m_project;
    os::ProcessRunner& m_runner;
    OverlayExec m_overlay;
};

// The packages a lab host needs besides the spec's (openssh-server and the shared libraries
// of shipshape's agent), from packaging/lab-packages.txt, compiled in.
const std::vector<std::string>& lab_packages();

}  // namespace shipshape::app
