// A package spec (docs/specs/package-spec.md): what `shipshape package build` turns into a Debian
// binary package — control fields and relations, files as source -> destination mappings
// (single files, directory trees, globs), symlinks, conffiles, maintainer scripts and the
// embedded requirements.toml.
//
// Loading parses the TOML, renders {{templates}} from --set parameters, and checks everything
// that needs no file system walk: names, versions, relations, destinations (relative to the
// package root, no ".." parts), conffiles (absolute, under /etc), script names. Sources are
// resolved and checked (inside the spec's directory, symlinks included; present; no duplicate
// destinations) by build_package, which reports against the same positions. Every problem is
// reported at once, "file:line:col: message" per line, as Errc::invalid_definition.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/error.hpp"

namespace shipshape::package {

// One [[files]] table: a file, a directory (copied recursively) or a glob (each match).
struct FileMapping {
    std::string source;            // relative to the spec's directory, as written
    std::string destination;       // normalised, relative to the package root ("usr/bin/booking");
                                   // "" is the root (directories and globs only)
    bool into = false;             // the destination was written with a trailing '/': a directory
    std::optional<uint32_t> mode;  // files only; default 0755 for executables, else 0644
    std::string owner = "root";
    std::string group = "root";
    SourcePos pos;
};

// One [[links]] table: a symlink in the package.
struct LinkMapping {
    std::string path;    // normalised, relative to the package root
    std::string target;  // as stored
    SourcePos pos;
};

// A relation field: its Debian name ("Depends") and the relations, each checked.
struct RelationField {
    std::string name;
    std::vector<std::string> relations;
};

struct PackageSpec {
    std::string path;  // the spec file, as given
    std::string dir;   // the directory sources are relative to (the spec's own)
    std::string name;
    std::string version;
    std::string architecture;
    std::string maintainer;
    std::string description;       // the synopsis (one line)
    std::string long_description;  // may be empty; several lines
    std::string section;
    std::string priority;
    std::string homepage;
    std::vector<RelationField> relations;  // in k_relation_fields order, only those given
    std::vector<FileMapping> files;
    std::vector<LinkMapping> links;
    std::vector<std::pair<std::string, SourcePos>> conffiles;  // "/etc/booking/booking.conf"
    std::map<std::string, std::string> scripts;                // "postinst" -> text
    std::optional<std::string> requirements_path;              // as the spec names it
    std::string requirements_text;
};

// What a {{variable}} that no parameter gives means: an error (building), or a value that
// cannot be checked yet and is left out (`shipshape validate`, which has no --set values).
enum class UnsetVariables { error, unchecked };

// Loads and checks the spec at `path` with `params` (--set NAME=VALUE) for its templates.
// Errc::not_found when the file cannot be read; Errc::invalid_definition listing every problem.
[[nodiscard]] Result<PackageSpec> load_package_spec(
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& params,
    UnsetVariables unset = UnsetVariables::error);

// Parses spec text (no templates rendered beyond `params`; files named by the spec — scripts,
// requirements — are read relative to `dir`). Problems go to `diags`.
PackageSpec parse_package_spec(std::string_view text, const std::string& path,
                               const std::string& dir,
                               const std::vector<std::pair<std::string, std::string>>& params,
                               Diagnostics& diags, UnsetVariables unset = UnsetVariables::error);

// Rules for control values; each returns "" when `value` obeys, else why not (a phrase that
// follows the value's name: "must start with a digit").
std::string package_name_rule(std::string_view name);                 // Policy 5.6.1
std::string version_rule(std::string_view version);                   // Policy 5.6.12
std::string architecture_rule(std::string_view arch);                 // "amd64", "all", "arm64"
std::string relation_rule(std::string_view relation, bool provides);  // "a (>= 1) | b:any"

// `destination` normalised ("usr//bin/./x" -> "usr/bin/x"), or nullopt with the reason in `why`
// for an absolute path, a ".." part, or a control character.
std::optional<std::string> normalise_destination(std::string_view destination, std::string& why);

// The real path of `source` (relative to `dir`, which is a real path), or nullopt with the reason
// in `why`: an absolute source, a ".." part, a path that does not exist, or one that resolves
// (through symlinks) outside `dir`.
std::optional<std::string> resolve_source(const std::string& dir, std::string_view source,
                                          std::string& why);

// The version without its epoch ("1:2.0-1" -> "2.0-1"), as in package file names.
std::string version_without_epoch(std::string_view version);

}  // namespace shipshape::package
