#include "app/package_diff.hpp"

#include <utility>

namespace shipshape::app {

PackageSide parse_package_side(std::string_view text) {
    PackageSide side;
    side.text = std::string(text);
    auto at = text.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == text.size() ||
        text.find('/') != std::string_view::npos) {
        return side;  // a file: no NAME@, or a path
    }
    side.package = std::string(text.substr(0, at));
    std::string_view where = text.substr(at + 1);
    constexpr std::string_view k_env = "env:";
    if (where.rfind(k_env, 0) == 0 && where.size() > k_env.size()) {
        side.kind = PackageSide::Kind::env;
        side.where = std::string(where.substr(k_env.size()));
    } else {
        side.kind = PackageSide::Kind::host;
        side.where = std::string(where);
    }
    return side;
}

Result<InstalledSide> load_installed_side(const Inventory& inventory, const PackageSide& side,
                                          const InstalledReader& read) {
    const bool env = side.kind == PackageSide::Kind::env;
    // NAME@localhost is this machine even when the inventory does not list it.
    auto hosts = select_hosts_or_this_machine(&inventory, {env ? "env:" + side.where : side.where});
    if (!hosts) {
        return fail(hosts.error().context("'" + side.text + "'"));
    }
    if (hosts->empty()) {
        return fail(Errc::invalid_argument,
                    "'" + side.text + "': environment '" + side.where + "' has no hosts");
    }
    if (!env && hosts->size() != 1) {
        return fail(Errc::invalid_argument, "'" + side.text + "': '" + side.where + "' names " +
                                                std::to_string(hosts->size()) +
                                                " hosts; name one, or use NAME@env:ENV");
    }
    auto manifests = read(*hosts, side.package);
    const InstalledManifest* chosen = nullptr;
    for (const auto& m : manifests) {
        if (m.manifest) {
            chosen = &m;
            break;
        }
    }
    if (!chosen) {
        if (manifests.empty()) {
            return fail(Errc::internal, "'" + side.text + "': no host was read");
        }
        const auto& first = manifests.front();
        return fail(first.manifest.error().context("'" + side.text + "' (" + first.host + ")"));
    }
    InstalledSide out;
    out.manifest = *chosen->manifest;
    out.hosts = std::move(*hosts);
    const std::string what = out.manifest.package + " " + out.manifest.version;
    if (env) {
        out.env = side.where;
        out.label = what + " in env:" + side.where + " (as on " + chosen->host + ")";
    } else {
        out.label = what + " on " + chosen->host;
    }
    const std::string identity = package::manifest_sha256(out.manifest);
    for (const auto& m : manifests) {
        if (&m == chosen) {
            continue;
        }
        if (!m.manifest) {
            out.notes.push_back(m.host + ": " + m.manifest.error().message());
        } else if (m.manifest->version != out.manifest.version) {
            out.notes.push_back(m.host + " has " + side.package + " " + m.manifest->version +
                                ", not " + out.manifest.version + " (diff it alone with " +
                                side.package + "@" + m.host + ")");
        } else if (package::manifest_sha256(*m.manifest) != identity) {
            out.notes.push_back(m.host +
                                " has the same version with other content (local "
                                "edits?); diff it alone with " +
                                side.package + "@" + m.host);
        }
    }
    return out;
}

void check_upgrade_requirements(package::PackageDiff& diff, const package::Manifest& b,
                                const std::vector<SelectedHost>& hosts, const std::string& label,
                                RequireService& service) {
    if (!b.requirements) {
        return;
    }
    auto req = require::parse_requirements(b.requirements->text, b.requirements->path);
    if (!req) {
        return;
    }
    auto report = service.check(*req, hosts);
    diff.requirements.checked_against = label;
    diff.requirements.checks = std::move(report.rows);
    for (const auto& [host, error] : report.errors) {
        require::CheckRow row;
        row.host = host;
        row.kind = "facts";
        row.subject = "host";
        row.needed = "facts";
        row.found = "?";
        row.verdict = require::Verdict::unknown;
        row.reason = error.message();
        diff.requirements.checks.push_back(std::move(row));
    }
}

void unknown_installed_requirements(package::PackageDiff& diff, const package::Manifest& a,
                                    bool a_installed, const package::Manifest& b,
                                    bool b_installed) {
    const char* side = nullptr;
    if (a_installed && !a.requirements && b.requirements) {
        side = "a";
    } else if (b_installed && !b.requirements && a.requirements) {
        side = "b";
    }
    if (side == nullptr) {
        return;
    }
    diff.requirements.changes.clear();
    diff.requirements.text_changed = false;
    diff.requirements.text_diff.clear();
    diff.requirements.errors.push_back(
        std::string(side) +
        ": the installed version's requirements are not known (dpkg does not keep the "
        "package's embedded manifest); the other side's are not compared");
}

}  // namespace shipshape::app
