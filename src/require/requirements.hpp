// Operating requirements: what the developers' software needs from a host (requirements.toml),
// and the check of those needs against a host's facts. Pure: the check reads only the facts
// it is given, plus an optional probe for paths the facts do not list.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/error.hpp"
#include "facts/facts.hpp"
#include "require/version.hpp"

namespace shipshape::require {

struct DiskNeed {
    std::string path;
    uint64_t free = 0;
    SourcePos pos;
};

struct PortNeed {
    int number = 0;
    std::string protocol = "tcp";  // "tcp" or "udp"
    SourcePos pos;
};

struct PackageNeed {
    std::string name;
    std::optional<Constraint> version;  // nullopt: any version
    bool absent = false;
    SourcePos pos;
};

struct Requirements {
    std::string path;                // as shown in messages
    std::optional<uint64_t> memory;  // available bytes
    std::optional<int> cpus;
    std::vector<DiskNeed> disks;
    std::vector<PortNeed> ports;
    std::vector<PackageNeed> packages;
    std::optional<Constraint> kernel;
    std::vector<std::pair<std::string, uint64_t>> limits;  // rlimit name -> minimum soft limit
    std::vector<std::string> env;                          // variables that must be set
};

// Parses requirements.toml. Every problem is reported at once, "file:line:col: message" per
// line, as Errc::invalid_definition.
[[nodiscard]] Result<Requirements> parse_requirements(std::string_view text, std::string_view path);

enum class Verdict { ok, fail, unknown };
std::string_view verdict_name(Verdict v);

struct CheckRow {
    std::string host;
    std::string kind;     // memory, cpus, disk, port, package, kernel, limit, env
    std::string subject;  // "/var/lib/booking", "libssl3", "8080/tcp"
    std::string needed;
    std::string found;
    Verdict verdict = Verdict::ok;
    std::string reason;  // for fail and unknown
};

// Answers whether a path exists on the host (nullopt: cannot tell).
using PathProbe = std::function<std::optional<bool>(const std::string&)>;

// One row per requirement, in file order.
std::vector<CheckRow> check_requirements(const Requirements& req, const facts::HostFacts& facts,
                                         const PathProbe& probe);

// Renders the requirements as a Markdown document for operators.
std::string explain_requirements(const Requirements& req);

}  // namespace shipshape::require
