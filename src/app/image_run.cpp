#include "app/image_run.hpp"

namespace shipshape::app {

std::string images_dir(const std::string& root) {
    return root + "/.shipshape/images";
}

os::ContainerSpec image_container_spec(const image::ImageRecord& image, const ImageRunOptions& o) {
    os::ContainerSpec s;
    s.lower_dirs = image::lower_dirs(image);
    s.hostname = !o.hostname.empty() ? o.hostname : !image.name.empty() ? image.name : "image";
    s.network = o.network;
    s.binds = o.binds;
    s.argv = o.argv;
    s.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
             "LANG=C.UTF-8"};
    s.env.insert(s.env.end(), o.env.begin(), o.env.end());
    s.cwd = "/";
    if (o.limits == ImageLimits::image) {
        s.limits.memory_bytes = image.limits.memory_bytes;
        s.limits.cpus = image.limits.cpus;
        s.limits.open_files = image.limits.open_files;
    }
    return s;
}

Result<os::BindMount> parse_bind(const std::string& text) {
    os::BindMount b;
    auto first = text.find(':');
    if (first == std::string::npos || first == 0) {
        return fail(Errc::invalid_argument,
                    "--bind takes SRC:DST or SRC:DST:rw, found '" + text + "'");
    }
    b.source = text.substr(0, first);
    std::string rest = text.substr(first + 1);
    auto second = rest.find(':');
    if (second != std::string::npos) {
        std::string mode = rest.substr(second + 1);
        rest = rest.substr(0, second);
        if (mode != "rw" && mode != "ro") {
            return fail(Errc::invalid_argument,
                        "--bind mode must be 'ro' or 'rw', found '" + mode + "' in '" + text + "'");
        }
        b.read_only = mode == "ro";
    }
    if (rest.empty() || rest.front() != '/') {
        return fail(Errc::invalid_argument,
                    "--bind destination must be an absolute path, found '" + text + "'");
    }
    b.destination = rest;
    return b;
}

Result<int> run_in_image(const std::string& dir, const ImageRunOptions& o) {
    auto image = image::resolve_image(dir, o.image);
    if (!image) {
        return fail(image.error());
    }
    return os::run_container(image_container_spec(*image, o));
}

}  // namespace shipshape::app
