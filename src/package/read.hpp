// Reading packages: the manifest of any Debian binary package, straight from its archive, and
// of a manifest file. The reader owns nothing between calls and keeps no global state, so
// several packages are read at once on separate threads (read_debs).
//
// A .deb is an ar archive: `debian-binary` ("2.x") first, then control.tar[.gz|.xz|.zst] and
// data.tar[.gz|.xz|.zst|.bz2] (members whose name starts with '_' are skipped, as dpkg does).
// The control member (small) is read into memory; the data member is streamed from the outer
// archive through the decompressor and never written to disk. Every regular file is hashed
// (SHA-256) in that one pass. The `files` list always comes from the archive itself: an
// embedded shipshape-manifest.json is only the source of `requirements`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "package/manifest.hpp"

namespace shipshape::package {

// The manifest of the .deb at `path`. Errc::invalid_definition naming the file and what is
// wrong for corrupt, truncated or non-Debian archives ("x.deb: not a Debian package: the first
// member is 'foo', not 'debian-binary'", "x.deb: data.tar.xz: truncated archive");
// Errc::not_found / permission_denied / io when the file cannot be opened. Unsafe members
// ("../x", "/abs", a symlink or hard link whose target leaves the root) are listed in
// Manifest::unsafe and left out of `files`; the read still succeeds.
[[nodiscard]] Result<Manifest> read_deb(const std::string& path);

// read_deb of every path, on up to `threads` threads at once (0: one per path, at most the
// machine's cores). The results are in the order of `paths`.
std::vector<Result<Manifest>> read_debs(const std::vector<std::string>& paths,
                                        unsigned threads = 0);

// A .deb (recognised by its "!<arch>\n" magic, whatever its name) or a manifest JSON file
// (parse_manifest_json). Errors as read_deb and parse_manifest_json; a file that is neither is
// Errc::invalid_definition ("x: neither a Debian package ... nor a manifest").
[[nodiscard]] Result<Manifest> load_package_file(const std::string& path);

// ---- the pure parts of the reader, exposed for tests and the installed side

// Fills control, package, version, architecture and relations of `m` from a control file
// (deb-control(5): "Name: value" lines, continuation lines starting with a space or tab, kept
// joined by "\n"). Errc::invalid_definition naming `where` and the line for a line that is
// neither ("control: line 3: expected 'Name: value'").
[[nodiscard]] Status parse_control_file(std::string_view text, std::string_view where, Manifest& m);

// The paths of a `conffiles` control member, one a line, possibly after flags
// ("remove-on-upgrade /etc/x"); blank lines skipped. Paths are returned as listed.
std::vector<std::string> parse_conffiles_list(std::string_view text);

// The requirements of an embedded shipshape manifest (the document's "requirements"), without
// building the rest of it; nullopt when the text is not a shipshape.manifest/1 document or has
// none.
std::optional<EmbeddedRequirements> embedded_requirements(std::string_view manifest_json);

// Why a symlink at `path` (normalised, "/usr/lib/x") pointing to `target` escapes the root when
// resolved from the symlink's directory, or "" when it does not. Absolute targets stay inside
// the root they are installed to.
std::string symlink_escape(std::string_view path, std::string_view target);

// Conffile content as the manifest keeps it: inline when UTF-8 and at most
// k_max_inline_conffile bytes.
Conffile make_conffile(std::string path, std::string sha256, uint64_t size,
                       const std::string* content);

// Sorts `files` by path; of a path listed twice the last one stays (as extraction would leave
// it). Sorts conffiles by path.
void sort_manifest(Manifest& m);

}  // namespace shipshape::package
