// The installed side of a package: its manifest as it is on a host now, read from dpkg's
// database under a root ("/" on a host, a fixture directory in tests) and from the files
// themselves. Reads only; takes no lock on dpkg's database (a package being installed while we
// read gives a mix, as `dpkg -L` would). Thread-safe: no shared state.
//
// Where each part comes from:
//   control, relations   ROOT/var/lib/dpkg/status, the package's stanza (without the fields
//                        dpkg adds: Status, Conffiles, Config-Version)
//   scripts              ROOT/var/lib/dpkg/info/NAME[:ARCH].SUFFIX for every SUFFIX but list,
//                        md5sums and conffiles (preinst, postinst, prerm, postrm, config,
//                        templates, triggers, shlibs, symbols ...)
//   files                every path of info/NAME[:ARCH].list, lstat'ed and hashed now; paths
//                        missing on the host are left out (they are not on the box); a regular
//                        file sharing its inode with an earlier listed path is a hard link to it
//   modified_locally     a file whose md5 differs from info/NAME.md5sums, a conffile whose md5
//                        differs from the status stanza's Conffiles (or that is gone)
//   requirements         info/NAME.shipshape-manifest.json when present (dpkg 1.21 does not
//                        keep that control member: installed manifests then have none)
// Owner and group names come from ROOT/etc/passwd and ROOT/etc/group (numeric ids otherwise).
#pragma once

#include <string>

#include "core/error.hpp"
#include "package/manifest.hpp"

namespace shipshape::package {

// The manifest of package `name` ("openssh-server", or "libc6:amd64" for one architecture of
// a Multi-Arch package) installed under `root`. Errc::not_found when dpkg's status has no
// installed package of that name there ("package 'x' is not installed under /"); the errors of
// reading the files otherwise (Errc::permission_denied naming a file the caller cannot read).
[[nodiscard]] Result<Manifest> read_installed(const std::string& root, const std::string& name);

}  // namespace shipshape::package
