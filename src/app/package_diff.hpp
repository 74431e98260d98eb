// The use case behind `package diff` for installed sides: "booking@web1" (the version installed
// on one host) and "booking@env:prod" (the version installed in an environment), resolved
// through the inventory, and the check of B's operating requirements against the facts of A's
// environment. Files (.deb, manifest) need none of this: package::load_package_file reads them.
//
// Reading a host's installed manifest is a seam (InstalledReader) so tests run without hosts;
// the command line passes one that asks each host's agent (app/package_remote.hpp). Prints
// nothing; one call per command, on the calling thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/hosts.hpp"
#include "app/package_remote.hpp"
#include "app/project.hpp"
#include "app/require_service.hpp"
#include "core/error.hpp"
#include "package/diff.hpp"
#include "package/manifest.hpp"

namespace shipshape::app {

// A side as the user wrote it.
struct PackageSide {
    enum class Kind { file, host, env };
    Kind kind = Kind::file;
    std::string text;     // as given: "booking@env:prod", "./booking_1.4.3_amd64.deb"
    std::string package;  // host and env sides: "booking"
    std::string where;    // host: a host name or pattern naming one host; env: the environment
};

// "NAME@env:ENV" is an environment side, "NAME@HOST" a host side, anything else a file. A name
// with '@' that is an existing file is for the caller to try first. Pure.
PackageSide parse_package_side(std::string_view text);

// Reads the installed manifest of `package` on each host, in the order given (one result per
// host: the manifest, or why it could not be had — Errc::not_found when it is not installed).
// The command line's reader is app::installed_manifests (app/package_remote.hpp).
using InstalledReader = std::function<std::vector<InstalledManifest>(
    const std::vector<SelectedHost>& hosts, const std::string& package)>;

struct InstalledSide {
    package::Manifest manifest;
    std::string label;  // "booking 1.4.2 on web1" / "booking 1.4.2 in env:prod (web1)"
    std::vector<SelectedHost> hosts;  // the hosts the side was read from
    std::optional<std::string> env;   // set for env sides
    // Hosts of the environment that do not agree with the manifest used: another version,
    // other content (local edits), not installed, or out of reach. One sentence each.
    std::vector<std::string> notes;
};

// Resolves a host or env side ("NAME@localhost" is this machine, listed or not). The manifest is
// that of the first host (natural order) that has the package; the other hosts are compared with it
// by manifest identity and named in `notes` when they differ. Errc::invalid_argument for an unknown
// host or environment (or a host pattern naming several hosts); the first host's error
// (Errc::not_found: "package 'x' is not installed
// ...") when no host has it.
[[nodiscard]] Result<InstalledSide> load_installed_side(const Inventory& inventory,
                                                        const PackageSide& side,
                                                        const InstalledReader& read);

// Checks B's embedded requirements against the live facts of `hosts` (as `require check` does)
// and puts the rows in diff.requirements.checks, with checked_against = `label`. A host whose
// facts cannot be had gets one `unknown` row saying why. Nothing is done when B embeds no
// requirements or they do not parse (the diff already names the error).
void check_upgrade_requirements(package::PackageDiff& diff, const package::Manifest& b,
                                const std::vector<SelectedHost>& hosts, const std::string& label,
                                RequireService& service);

// dpkg does not keep a package's embedded manifest (shipshape-manifest.json is no control file
// it knows), so an installed side has no requirements of its own: its needs are unknown, not
// absent. When one side is installed (`a_installed` / `b_installed`) and has none while the
// other has some, the requirement changes are dropped (they would all read "added" or "no longer
// needed") and diff.requirements.errors says why instead; the diff then counts no requirement
// change. Nothing is done otherwise.
void unknown_installed_requirements(package::PackageDiff& diff, const package::Manifest& a,
                                    bool a_installed, const package::Manifest& b, bool b_installed);

}  // namespace shipshape::app
