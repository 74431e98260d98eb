// image check's JSON document (see image_check_view.hpp).
#include <nlohmann/json.hpp>

#include "cli/image_check_view.hpp"

namespace shipshape::cli {

std::string json_image_check(const app::ImageCheckReport& report, int exit_code) {
    using nlohmann::json;
    json hosts = json::array();
    for (const auto& h : report.hosts) {
        json j = {{"host", h.host}, {"source", h.source}};
        if (h.error) {
            j["error"] = {{"code", std::string(errc_name(h.error->code()))},
                          {"message", h.error->message()}};
            hosts.push_back(std::move(j));
            continue;
        }
        json upgrades = json::array(), downgrades = json::array(), additions = json::array(),
             removals = json::array();
        for (const auto& c : h.delta.changes) {
            switch (c.kind) {
                case image::ChangeKind::upgrade:
                    upgrades.push_back(
                        {{"name", c.name}, {"image", c.image_version}, {"host", c.host_version}});
                    break;
                case image::ChangeKind::downgrade:
                    downgrades.push_back(
                        {{"name", c.name}, {"image", c.image_version}, {"host", c.host_version}});
                    break;
                case image::ChangeKind::addition:
                    additions.push_back({{"name", c.name}, {"version", c.host_version}});
                    break;
                case image::ChangeKind::removal:
                    removals.push_back({{"name", c.name}, {"version", c.image_version}});
                    break;
            }
        }
        j["recommendation"] = image::recommendation_name(h.verdict.recommendation);
        j["reasons"] = h.verdict.reasons;
        j["packages"] = {{"upgrades", std::move(upgrades)},
                         {"downgrades", std::move(downgrades)},
                         {"additions", std::move(additions)},
                         {"removals", std::move(removals)},
                         {"changed", h.delta.changes.size()}};
        j["drift"] = h.drift ? json(*h.drift) : json(nullptr);
        j["plan"] = h.plan;
        j["notes"] = h.notes;
        hosts.push_back(std::move(j));
    }
    json doc = {
        {"image",
         {{"id", report.image.id},
          {"name", report.image.name},
          {"created", report.image.created},
          {"age_seconds", report.age_seconds},
          {"packages", report.image.packages.size()}}},
        {"policy",
         {{"patch_max", report.policy.patch_max}, {"rebuild_on", report.policy.rebuild_on}}},
        {"hosts", std::move(hosts)},
        {"exit_code", exit_code},
    };
    return doc.dump();
}

}  // namespace shipshape::cli
