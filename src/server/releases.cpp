#include "server/releases.hpp"

#include <algorithm>
#include <map>

namespace shipshape::server {

void order_releases(std::vector<app::ReleaseStatus>& releases) {
    std::map<std::string, int64_t> newest;  // name -> its newest record's created_at
    for (const auto& r : releases) {
        auto [it, inserted] = newest.emplace(r.record.document.name, r.record.created_at);
        if (!inserted) {
            it->second = std::max(it->second, r.record.created_at);
        }
    }
    std::stable_sort(releases.begin(), releases.end(),
                     [&](const app::ReleaseStatus& a, const app::ReleaseStatus& b) {
                         const auto& na = a.record.document.name;
                         const auto& nb = b.record.document.name;
                         if (na != nb) {
                             int64_t ta = newest.at(na);
                             int64_t tb = newest.at(nb);
                             return ta != tb ? ta > tb : na < nb;
                         }
                         if (a.record.created_at != b.record.created_at) {
                             return a.record.created_at > b.record.created_at;
                         }
                         return a.record.id < b.record.id;
                     });
}

Result<ReleasesView> compute_releases(const app::Project& project, app::ReleaseService& service) {
    ReleasesView view;
    view.stages = &project.config.stages;
    auto records = service.list();
    if (!records) {
        return fail(records.error());
    }
    view.releases.reserve(records->size());
    for (const auto& record : *records) {
        auto status = service.status(record);
        if (!status) {
            return fail(status.error());
        }
        view.releases.push_back(std::move(*status));
    }
    order_releases(view.releases);
    return view;
}

}  // namespace shipshape::server
