// image snapshot: an image spec from hosts' facts (majority package set, roles, limits).
#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>

#include "app/image_run.hpp"
#include "app/image_service.hpp"
#include "require/version.hpp"

namespace shipshape::app {

std::string images_dir(const Project& project) {
    return project.state_dir() + "/images";
}

std::string debian_architecture(const std::string& machine) {
    static const std::map<std::string, std::string> k_names = {
        {"x86_64", "amd64"},    {"aarch64", "arm64"},  {"armv7l", "armhf"},    {"armv6l", "armel"},
        {"i686", "i386"},       {"i386", "i386"},      {"ppc64le", "ppc64el"}, {"s390x", "s390x"},
        {"riscv64", "riscv64"}, {"mips64", "mips64el"}};
    auto it = k_names.find(machine);
    return it == k_names.end() ? "" : it->second;
}

namespace {

bool kept(const std::vector<std::string>& globs, const std::string& name) {
    if (globs.empty()) {
        return true;
    }
    return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
        return ::fnmatch(g.c_str(), name.c_str(), 0) == 0;
    });
}

// The value most hosts have (the greatest of a tie, by `less`), and how many have it.
template <typename Less>
std::pair<std::string, size_t> majority(const std::map<std::string, size_t>& counts, Less less) {
    std::pair<std::string, size_t> best{"", 0};
    for (const auto& [value, n] : counts) {
        if (n > best.second || (n == best.second && less(best.first, value))) {
            best = {value, n};
        }
    }
    return best;
}

void take_limits(const facts::HostFacts& f, image::Limits& limits) {
    auto lower = [](auto& slot, auto value) {
        if (!slot || value < *slot) {
            slot = value;
        }
    };
    uint64_t memory = f.limits.cgroup_memory_limit.value_or(f.memory.total);
    if (memory > 0) {
        lower(limits.memory_bytes, memory);
    }
    double cpus = f.limits.cgroup_cpu_limit.value_or(static_cast<double>(f.cpu.threads));
    if (cpus > 0) {
        lower(limits.cpus, cpus);
    }
    if (auto it = f.limits.rlimits.find("nofile");
        it != f.limits.rlimits.end() && it->second < (1ULL << 30)) {
        lower(limits.open_files, it->second);
    }
}

}  // namespace

Result<Snapshot> snapshot_from_facts(const Project& project,
                                     const std::vector<HostFactsResult>& hosts,
                                     const SnapshotOptions& options) {
    std::vector<const facts::HostFacts*> good;
    std::vector<std::string> failed;
    for (const auto& h : hosts) {
        if (h.facts) {
            good.push_back(&*h.facts);
        } else {
            failed.push_back(h.host.name + " (" + (h.error ? h.error->message() : "no facts") +
                             ")");
        }
    }
    if (good.empty()) {
        std::string why;
        for (const auto& f : failed) {
            why += (why.empty() ? "" : "; ") + f;
        }
        return fail(Errc::unreachable,
                    "no host gave its facts: " + (why.empty() ? "no hosts" : why));
    }
    Snapshot out;
    image::Spec& spec = out.spec;
    spec.name = options.name;
    spec.lab = options.lab;
    spec.taken = options.taken;
    auto by_version = [](const std::string& a, const std::string& b) {
        return require::compare_versions(a, b) < 0;
    };
    auto by_text = [](const std::string& a, const std::string& b) { return a < b; };
    std::map<std::string, size_t> releases;
    std::map<std::string, size_t> arches;
    // package key (name or name:arch) -> version -> hosts having it
    std::map<std::string, std::map<std::string, std::vector<std::string>>> seen;
    std::set<std::string> roles;
    for (const auto* f : good) {
        spec.hosts.push_back(f->host);
        ++releases[f->os.codename];
        ++arches[debian_architecture(f->os.architecture)];
        take_limits(*f, spec.limits);
        for (const auto& r : project.inventory.roles_of(f->host)) {
            roles.insert(r);
        }
        for (const auto& p : f->packages) {
            if (p.status != "installed") {
                continue;
            }
            seen[p.name + "\t" + p.architecture][p.version].push_back(f->host);
        }
    }
    spec.release = majority(releases, by_text).first;
    spec.architecture = majority(arches, by_text).first;
    if (spec.release.empty()) {
        return fail(Errc::unsupported,
                    "the hosts' facts name no Debian release (os.codename): "
                    "only Debian-based hosts can be snapshotted");
    }
    if (spec.architecture.empty()) {
        return fail(Errc::unsupported,
                    "unknown machine architecture '" + good.front()->os.architecture + "'");
    }
    if (releases.size() > 1 || arches.size() > 1) {
        out.header.push_back("hosts disagree on release or architecture; the majority's is kept");
    }
    spec.roles.assign(roles.begin(), roles.end());
    const size_t n = good.size();
    for (const auto& [key, versions] : seen) {
        auto tab = key.find('\t');
        std::string name = key.substr(0, tab);
        std::string arch = key.substr(tab + 1);
        if (!kept(options.keep, name)) {
            continue;
        }
        std::map<std::string, size_t> counts;
        size_t having = 0;
        for (const auto& [v, who] : versions) {
            counts[v] = who.size();
            having += who.size();
        }
        auto [version, count] = majority(counts, by_version);
        // Architecture-qualified only when it is foreign (neither the image's nor "all").
        std::string qual = (arch == spec.architecture || arch == "all" || arch.empty()) ? "" : arch;
        std::string shown = qual.empty() ? name : name + ":" + qual;
        image::Dissent d{shown, {}};
        for (const auto& [v, who] : versions) {
            if (having * 2 > n && v == version) {
                continue;
            }
            for (const auto& h : who) {
                d.others.emplace_back(h, v);
            }
        }
        if (having * 2 > n) {
            spec.packages.push_back(image::PackagePin{name, version, qual});
            for (const auto* f : good) {
                bool has = std::any_of(versions.begin(), versions.end(), [&](const auto& kv) {
                    return std::find(kv.second.begin(), kv.second.end(), f->host) !=
                           kv.second.end();
                });
                if (!has) {
                    d.others.emplace_back(f->host, "absent");
                }
            }
        }
        if (!d.others.empty()) {
            std::sort(d.others.begin(), d.others.end());
            out.dissents.push_back(std::move(d));
        }
    }
    std::sort(spec.packages.begin(), spec.packages.end(), [](const auto& a, const auto& b) {
        return std::tie(a.name, a.architecture) < std::tie(b.name, b.architecture);
    });
    std::string from;
    for (const auto& h : spec.hosts) {
        from += (from.empty() ? "" : ", ") + h;
    }
    out.header.insert(out.header.begin(),
                      {"Image spec written by `shipshape image snapshot` at " + options.taken,
                       "from the facts of " + from + ". Format: docs/specs/image-format.md.",
                       "Build it with: shipshape image build <this file>"});
    for (const auto& f : failed) {
        out.header.push_back("left out (no facts): " + f);
    }
    return out;
}

}  // namespace shipshape::app
