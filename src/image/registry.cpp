#include "image/registry.hpp"

#include <algorithm>
#include <filesystem>

#include "os/file_system.hpp"

namespace shipshape::image {

namespace fs = std::filesystem;

bool is_image_id(const std::string& s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::vector<std::string> lower_dirs(const ImageRecord& image) {
    return {image.dir + "/layer", image.base_rootfs};
}

Result<std::vector<ImageRecord>> list_images(const std::string& images_dir) {
    std::vector<ImageRecord> out;
    std::error_code ec;
    if (!fs::exists(images_dir, ec)) {
        return out;
    }
    for (fs::directory_iterator it(images_dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (!is_image_id(name)) {
            continue;
        }
        std::string dir = it->path().string();
        auto text = os::read_whole_file(dir + "/image.json");
        if (!text) {
            continue;  // a build that did not finish: not an image
        }
        auto rec = parse_record(*text, dir, images_dir);
        if (!rec) {
            return fail(rec.error());
        }
        out.push_back(std::move(*rec));
    }
    if (ec) {
        return fail(Errc::io, "listing " + images_dir + ": " + ec.message());
    }
    std::sort(out.begin(), out.end(), [](const ImageRecord& a, const ImageRecord& b) {
        return std::tie(b.created, b.id) < std::tie(a.created, a.id);
    });
    return out;
}

Result<ImageRecord> resolve_image(const std::string& images_dir, const std::string& ref) {
    auto all = list_images(images_dir);
    if (!all) {
        return fail(all.error());
    }
    if (auto named = os::read_whole_file(images_dir + "/names/" + ref);
        named && ref.find('/') == std::string::npos && !ref.empty() && ref[0] != '.') {
        std::string id = *named;
        while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) {
            id.pop_back();
        }
        for (auto& r : *all) {
            if (r.id == id) {
                return std::move(r);
            }
        }
        return fail(Errc::not_found, "image name '" + ref + "' points at " + id.substr(0, 12) +
                                         ", which is not built any more; build it again");
    }
    std::vector<const ImageRecord*> hits;
    if (ref.size() >= 6) {
        for (const auto& r : *all) {
            if (r.id.rfind(ref, 0) == 0) {
                hits.push_back(&r);
            }
        }
    }
    if (hits.size() == 1) {
        return *hits.front();
    }
    if (hits.size() > 1) {
        return fail(Errc::invalid_argument, "image id prefix '" + ref + "' matches " +
                                                std::to_string(hits.size()) +
                                                " images; give more digits");
    }
    std::string known;
    for (const auto& r : *all) {
        known += (known.empty() ? "" : ", ") + r.name + " (" + r.id.substr(0, 12) + ")";
    }
    return fail(
        Errc::not_found,
        "no image '" + ref + "' in " + images_dir + "; " +
            (known.empty() ? "none is built yet: shipshape image build SPEC" : "built: " + known));
}

Result<void> set_name(const std::string& images_dir, const std::string& name,
                      const std::string& id) {
    std::error_code ec;
    fs::create_directories(images_dir + "/names", ec);
    if (ec) {
        return fail(Errc::io, "creating " + images_dir + "/names: " + ec.message());
    }
    return os::write_whole_file_atomic(images_dir + "/names/" + name, id + "\n");
}

std::vector<std::string> names_of(const std::string& images_dir, const std::string& id) {
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(images_dir + "/names", ec), end; !ec && it != end;
         it.increment(ec)) {
        auto text = os::read_whole_file(it->path().string());
        if (text && text->rfind(id, 0) == 0) {
            out.push_back(it->path().filename().string());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::vector<std::string>> remove_image(const std::string& images_dir,
                                              const ImageRecord& image) {
    std::vector<std::string> removed;
    std::error_code ec;
    for (const auto& n : names_of(images_dir, image.id)) {
        fs::remove(images_dir + "/names/" + n, ec);
        removed.push_back("name " + n);
    }
    fs::remove(image.dir + "/image.json", ec);
    if (ec) {
        return fail(Errc::io, "removing " + image.dir + "/image.json: " + ec.message());
    }
    fs::remove_all(image.dir, ec);
    if (ec) {
        return fail(Errc::io, "removing " + image.dir + ": " + ec.message());
    }
    removed.push_back("image " + image.id.substr(0, 12));
    auto rest = list_images(images_dir);
    if (rest && std::none_of(rest->begin(), rest->end(),
                             [&](const ImageRecord& r) { return r.parent == image.parent; })) {
        fs::remove_all(images_dir + "/bases/" + image.parent, ec);
        if (!ec) {
            removed.push_back("base " + image.parent.substr(0, 12));
        }
    }
    return removed;
}

}  // namespace shipshape::image
