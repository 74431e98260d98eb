// The toml++ adapter for shipshape.toml's [image] table (image check's thresholds).
#include "app/image_check_policy.hpp"
#include "app/project.hpp"
#include "core/toml_reader.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

image::CheckPolicy read_check_policy(std::string_view text, std::string_view path,
                                     Diagnostics& diags) {
    TomlReader r{std::string(path), diags};
    image::CheckPolicy policy;
    auto doc = r.parse(text);
    if (!doc) {
        return policy;
    }
    const toml::node* node = doc->get("image");
    if (node == nullptr) {
        return policy;
    }
    const toml::table* t = r.table(*node, "[image]");
    if (t == nullptr) {
        return policy;
    }
    r.check_keys(*t, "[image]", {"patch_max", "rebuild_on"});
    if (const toml::node* n = t->get("patch_max")) {
        if (auto v = r.integer(*n, "[image] patch_max", 0, 1000000)) {
            policy.patch_max = static_cast<size_t>(*v);
        }
    }
    if (const toml::node* n = t->get("rebuild_on")) {
        if (auto v = r.strings(*n, "[image] rebuild_on")) {
            policy.rebuild_on = std::move(*v);
            for (const auto& g : policy.rebuild_on) {
                if (g.empty()) {
                    r.error(*n, "[image] rebuild_on: an empty pattern matches no package");
                }
            }
        }
    }
    return policy;
}

Result<image::CheckPolicy> parse_check_policy(std::string_view text, std::string_view path) {
    Diagnostics diags;
    auto policy = read_check_policy(text, path, diags);
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    return policy;
}

Result<image::CheckPolicy> load_check_policy(const Project& project) {
    const std::string path = project.root + "/shipshape.toml";
    auto text = os::read_whole_file(path);
    if (!text) {
        return fail(text.error());
    }
    return parse_check_policy(*text, "shipshape.toml");
}

}  // namespace shipshape::app
