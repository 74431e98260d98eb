// Building a Debian binary package from a spec (package/spec.hpp): the payload is planned from
// the spec's mappings (sources resolved and checked), written as data.tar with each file hashed
// (sha256 and md5) while it is copied, then the manifest (package/manifest.hpp), the control
// members and the ar archive around them. Archives are written with libarchive
// (deb_write_archive.cpp).
//
// Output: OUT_DIR/NAME_VERSION_ARCH.deb (version without epoch) and NAME_VERSION_ARCH.manifest.json
// beside it; the package's control.tar holds the same manifest bytes as `shipshape-manifest.json`.
// Both are written to temporaries in OUT_DIR and renamed into place only once everything
// succeeded: a failed build leaves no output file (and no temporary).
//
// Reproducible: the same spec, sources and source_date_epoch give byte-identical files. Entries
// are sorted by path, owned by root:root unless the spec says otherwise, modes normalised (0755
// for directories and executables, else 0644, unless the spec gives one), mtimes clamped to
// source_date_epoch, and no compressor header carries a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/diagnostic.hpp"
#include "core/error.hpp"
#include "package/manifest.hpp"
#include "package/spec.hpp"

namespace shipshape::package {

enum class Compression { zstd, xz, gzip, none };

// "zstd", "xz", "gzip", "none"; parse_compression is the inverse.
std::string_view compression_name(Compression c);
std::optional<Compression> parse_compression(std::string_view name);

struct BuildOptions {
    std::string out_dir = ".";
    Compression compression = Compression::zstd;
    // Clamps every mtime (and dates the ar members); nullopt: the time of the build.
    std::optional<int64_t> source_date_epoch;
    // zstd compression threads: 0 = one per CPU. The output does not depend on it.
    int threads = 0;
};

struct BuildResult {
    std::string deb_path;
    std::string manifest_path;
    Manifest manifest;
};

// Builds the package. Errc::invalid_definition naming spec positions ("booking.toml:12:1:
// [[files]] source 'bin/booking' does not exist") for bad sources, destinations and conffiles;
// Errc::io / permission_denied for output that cannot be written; nothing is left behind then.
[[nodiscard]] Result<BuildResult> build_package(const PackageSpec& spec, const BuildOptions& o);

// {"deb": PATH, "manifest": PATH, "manifest_sha256": HEX, "package", "version", "architecture",
// "files": COUNT}: what `shipshape --json package build` prints.
std::string build_result_json(const BuildResult& result);

}  // namespace shipshape::package
