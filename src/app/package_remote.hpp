// The installed side of packages on hosts: the manifest of a package as it is on each host
// (package/installed.hpp, read from the host's dpkg database and files), for `package diff
// NAME@HOST` and `NAME@env:ENV`. Local hosts are read in-process; remote hosts by their agents
// (op "package-manifest", docs/specs/agent-protocol.md), in parallel.
#pragma once

#include <string>
#include <vector>

#include "app/fleet_service.hpp"
#include "app/hosts.hpp"
#include "core/error.hpp"
#include "package/manifest.hpp"

namespace shipshape::app {

// The installed manifest of a package on one host, or why it could not be had: Errc::not_found
// when the package is not installed there, the transport's error when the host is out of reach.
struct InstalledManifest {
    std::string host;
    Result<package::Manifest> manifest;
};

// The installed manifest of package `name` on each of `hosts`, in their order, read on up to
// fleet->forks() hosts at once. `fleet` may be null when every host is local; a remote host
// without one gets Errc::unsupported. Unreachable hosts get the transport's error; a reply that
// is not a valid manifest gets Errc::io naming the host. `root` other than "/" reads a dpkg
// database under that directory instead (tests); never fails as a whole.
std::vector<InstalledManifest> installed_manifests(FleetService* fleet,
                                                   const std::vector<SelectedHost>& hosts,
                                                   const std::string& name,
                                                   const std::string& root = "/");

}  // namespace shipshape::app
