// The --json documents of image list and image build.
#include <nlohmann/json.hpp>

#include "cli/image_cmds.hpp"

namespace shipshape::cli {

namespace {

using nlohmann::json;

json image_object(const image::ImageRecord& r, const std::vector<std::string>& names) {
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
    return json{{"id", r.id},
                {"name", r.name},
                {"names", names},
                {"created", r.created},
                {"parent", r.parent},
                {"spec", r.spec},
                {"spec_sha256", r.spec_sha256},
                {"snapshot", r.snapshot},
                {"release", r.release},
                {"architecture", r.architecture},
                {"roles", r.roles},
                {"packages", r.packages.size()},
                {"layer_files", r.files},
                {"layer_bytes", r.bytes},
                {"limits", limits},
                {"dir", r.dir}};
}

}  // namespace

std::string json_image(const image::ImageRecord& r, const std::vector<std::string>& names) {
    return image_object(r, names).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string json_images(const std::vector<image::ImageRecord>& images,
                        const std::vector<std::vector<std::string>>& names) {
    json out = json::array();
    for (size_t i = 0; i < images.size(); ++i) {
        out.push_back(image_object(images[i], names[i]));
    }
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace shipshape::cli
