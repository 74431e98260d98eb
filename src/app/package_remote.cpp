#include "app/package_remote.hpp"

#include <optional>

#include "os/fan_out.hpp"
#include "package/installed.hpp"

namespace shipshape::app {

namespace {

Result<package::Manifest> remote_manifest(FleetService& fleet, const SelectedHost& host,
                                          const std::string& name, const std::string& root) {
    auto reply = fleet.fleet().call(fleet.endpoint(host), package_manifest_request(name, root),
                                    fleet.timeout());
    if (!reply) {
        return fail(reply.error());
    }
    auto doc = manifest_of_reply(*reply);
    if (!doc) {
        return fail(doc.error());
    }
    auto m = package::parse_manifest_json(*doc, name + "@" + host.name);
    if (!m) {
        return fail(Errc::io, "the manifest host " + host.name + " sent: " + m.error().message());
    }
    return m;
}

}  // namespace

std::vector<InstalledManifest> installed_manifests(FleetService* fleet,
                                                   const std::vector<SelectedHost>& hosts,
                                                   const std::string& name,
                                                   const std::string& root) {
    std::vector<std::optional<Result<package::Manifest>>> slots(hosts.size());
    os::fan_out(hosts.size(), fleet ? fleet->forks(hosts.size()) : 1, [&](size_t i) {
        const SelectedHost& h = hosts[i];
        if (h.local) {
            slots[i] = package::read_installed(root, name);
        } else if (!fleet) {
            slots[i] = fail(Errc::unsupported, "host '" + h.name + "' (" + h.address +
                                                   ") is remote and no ssh transport is set up");
        } else {
            slots[i] = remote_manifest(*fleet, h, name, root);
        }
    });
    std::vector<InstalledManifest> out;
    out.reserve(hosts.size());
    for (size_t i = 0; i < hosts.size(); ++i) {
        out.push_back(InstalledManifest{hosts[i].name, std::move(*slots[i])});
    }
    return out;
}

}  // namespace shipshape::app
