// The nlohmann-json adapter for image.json (docs/specs/image-format.md, "Image records").
#include <nlohmann/json.hpp>

#include "image/registry.hpp"

namespace shipshape::image {

using nlohmann::json;

std::string record_json(const ImageRecord& r) {
    json packages = json::array();
    for (const auto& p : r.packages) {
        packages.push_back(
            {{"name", p.name}, {"version", p.version}, {"architecture", p.architecture}});
    }
    json limits = json::object();
    if (r.limits.memory_bytes) {
        limits["memory"] = *r.limits.memory_bytes;
    }
    if (r.limits.cpus) {
        limits["cpus"] = *r.limits.cpus;
    }
    if (r.limits.open_files) {
        limits["open_files"] = *r.limits.open_files;
    }
    json doc = {{"format", 1},
                {"id", r.id},
                {"name", r.name},
                {"created", r.created},
                {"parent", r.parent},
                {"spec", r.spec},
                {"spec_sha256", r.spec_sha256},
                {"snapshot", r.snapshot},
                {"release", r.release},
                {"architecture", r.architecture},
                {"roles", r.roles},
                {"limits", limits},
                {"files", r.files},
                {"bytes", r.bytes},
                {"packages", packages}};
    return doc.dump(2) + "\n";
}

Result<ImageRecord> parse_record(const std::string& text, const std::string& dir,
                                 const std::string& images_dir) {
    json doc = json::parse(text, nullptr, false);
    std::string where = dir + "/image.json";
    if (doc.is_discarded() || !doc.is_object()) {
        return fail(Errc::invalid_definition, where + ": not a JSON object");
    }
    ImageRecord r;
    try {
        r.id = doc.at("id").get<std::string>();
        r.name = doc.at("name").get<std::string>();
        r.created = doc.at("created").get<std::string>();
        r.parent = doc.at("parent").get<std::string>();
        r.spec = doc.value("spec", "");
        r.spec_sha256 = doc.value("spec_sha256", "");
        r.snapshot = doc.value("snapshot", "");
        r.release = doc.value("release", "");
        r.architecture = doc.value("architecture", "");
        r.roles = doc.value("roles", std::vector<std::string>{});
        r.files = doc.value("files", uint64_t{0});
        r.bytes = doc.value("bytes", uint64_t{0});
        const json& limits = doc.value("limits", json::object());
        if (limits.contains("memory")) {
            r.limits.memory_bytes = limits["memory"].get<uint64_t>();
        }
        if (limits.contains("cpus")) {
            r.limits.cpus = limits["cpus"].get<double>();
        }
        if (limits.contains("open_files")) {
            r.limits.open_files = limits["open_files"].get<uint64_t>();
        }
        for (const auto& p : doc.value("packages", json::array())) {
            r.packages.push_back(PackagePin{p.at("name").get<std::string>(),
                                            p.at("version").get<std::string>(),
                                            p.value("architecture", "")});
        }
    } catch (const json::exception& e) {
        return fail(Errc::invalid_definition, where + ": " + e.what());
    }
    if (!is_image_id(r.id) || !is_image_id(r.parent)) {
        return fail(Errc::invalid_definition, where + ": id and parent must be sha256 hex");
    }
    r.dir = dir;
    r.base_rootfs = images_dir + "/bases/" + r.parent + "/rootfs";
    return r;
}

}  // namespace shipshape::image
