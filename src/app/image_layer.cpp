// image build's second half: the layer (the spec's users and roles applied over the cached
// base through an overlay), the content-addressed record renamed into place; image rm; and
// the lab package list compiled in.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "app/image_service.hpp"
#include "app/image_tools.hpp"
#include "facts/collect.hpp"
#include "image/manifest.hpp"
#include "image/registry.hpp"
#include "lab_packages.inc"
#include "os/file_system.hpp"
#include "os/self_exe.hpp"

namespace shipshape::app {

namespace fs = std::filesystem;

namespace image_tools {

std::string iso_utc(int64_t seconds) {
    std::time_t t = seconds;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string tmp_name(const std::string& dir) {
    static int counter = 0;
    return dir + "/tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// dpkg's installed packages of a root, by name.
std::vector<image::PackagePin> installed_in(const std::string& rootfs) {
    std::vector<image::PackagePin> out;
    auto status = os::read_whole_file(rootfs + "/var/lib/dpkg/status");
    if (!status) {
        return out;
    }
    for (const auto& p : facts::parse_dpkg_status(*status)) {
        if (p.status == "installed") {
            out.push_back(image::PackagePin{p.name, p.version, p.architecture});
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.name, a.architecture) < std::tie(b.name, b.architecture);
    });
    return out;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string out;
    for (const auto& s : v) {
        out += (out.empty() ? "" : sep) + s;
    }
    return out;
}

// Whom the layer's state is rendered for ({{host}}, {{env}} in templates): the first snapshot
// host the inventory knows, else the image's name with no environment. Passed as apply's
// --as-host, so exactly one target is applied and nothing is recorded in the store (an image
// is not a host). Names are inventory or image names: no quote or backslash to escape.
std::string as_host_json(const Project& project, const image::Spec& spec) {
    std::string name = spec.name;
    std::string env;
    for (const auto& h : spec.hosts) {
        auto it = std::find_if(project.inventory.hosts.begin(), project.inventory.hosts.end(),
                               [&](const auto& known) { return known.name == h; });
        if (it != project.inventory.hosts.end() || h == "localhost") {
            name = h;
            for (const auto& e : project.inventory.environments) {
                if (std::find(e.hosts.begin(), e.hosts.end(), h) != e.hosts.end()) {
                    env = e.name;
                    break;
                }
            }
            break;
        }
    }
    auto clean = [](const std::string& s) { return s.find_first_of("\"\\") == std::string::npos; };
    if (!clean(name) || !clean(env)) {
        name = spec.name;
        env.clear();
    }
    std::string roles;
    for (const auto& r : spec.roles) {
        roles += (roles.empty() ? "\"" : ",\"") + r + "\"";
    }
    return "{\"name\":\"" + name + "\",\"env\":\"" + env + "\",\"roles\":[" + roles + "]}";
}

}  // namespace image_tools

using image_tools::as_host_json;
using image_tools::installed_in;
using image_tools::iso_utc;
using image_tools::join;
using image_tools::seconds_since;
using image_tools::tmp_name;

Result<BuildResult> ImageService::build_layer(const image::Spec& spec, const std::string& spec_file,
                                              const std::string& spec_text,
                                              const std::vector<std::string>& state_files,
                                              const std::string& base_key,
                                              const std::string& base_manifest, int64_t now,
                                              bool clamp, const BuildOptions& options,
                                              BuildResult result) {
    const std::string images = images_dir(m_project);
    const std::string base_rootfs = images + "/bases/" + base_key + "/rootfs";
    std::error_code ec;
    const std::string tmp = tmp_name(images);
    for (const char* d : {"/layer", "/work", "/merged"}) {
        fs::create_directories(tmp + d, ec);
    }
    auto cleanup = [&] { fs::remove_all(tmp, ec); };
    auto t0 = std::chrono::steady_clock::now();
    auto over = [&](const std::vector<std::string>& argv, const std::string& what) -> Status {
        auto status = m_overlay({base_rootfs}, tmp + "/layer", tmp + "/work", tmp + "/merged", argv,
                                m_project.root);
        if (!status) {
            return fail(status.error());
        }
        if (*status != 0) {
            return fail(Errc::io, what + " failed (exit " + std::to_string(*status) + ")");
        }
        return {};
    };
    const std::string merged = tmp + "/merged";
    for (const auto& u : spec.users) {
        if (options.progress) {
            options.progress("layer: user " + u.name);
        }
        std::vector<std::string> argv = {"useradd", "--root", merged};
        if (u.gid) {
            if (auto st =
                    over({"groupadd", "--root", merged, "-f", "-g", std::to_string(*u.gid), u.name},
                         "creating group " + u.name);
                !st) {
                cleanup();
                return fail(st.error());
            }
            argv.insert(argv.end(), {"-g", std::to_string(*u.gid)});
        } else {
            argv.push_back("-U");
        }
        if (u.uid) {
            argv.insert(argv.end(), {"-u", std::to_string(*u.uid)});
        }
        if (!u.home.empty()) {
            argv.insert(argv.end(), {"-d", u.home, "-m"});
        }
        if (!u.shell.empty()) {
            argv.insert(argv.end(), {"-s", u.shell});
        }
        argv.push_back(u.name);
        if (auto st = over(argv, "creating user " + u.name); !st) {
            cleanup();
            return fail(st.error());
        }
    }
    if (!state_files.empty()) {
        if (options.progress) {
            options.progress("layer: apply " + join(spec.roles, ", ") + " (" +
                             join(state_files, ", ") + ")");
        }
        std::vector<std::string> argv = {
            options.self_exe.empty() ? os::self_exe() : options.self_exe,
            "apply",
            "--root",
            merged,
            "--as-host",
            as_host_json(m_project, spec)};
        for (const auto& f : state_files) {
            argv.insert(argv.end(), {"--state", f});
        }
        for (const auto& s : options.set) {
            argv.insert(argv.end(), {"--set", s});
        }
        if (auto st = over(argv, "applying the desired state of " + join(spec.roles, ", ")); !st) {
            cleanup();
            return fail(st.error());
        }
    }
    fs::remove_all(tmp + "/work", ec);
    fs::remove_all(tmp + "/merged", ec);
    if (clamp) {
        if (auto st = image::clamp_times(tmp + "/layer", now); !st) {
            cleanup();
            return fail(st.error());
        }
    }
    auto layer = image::manifest_of(tmp + "/layer");
    if (!layer) {
        cleanup();
        return fail(layer.error());
    }
    result.layer_seconds = seconds_since(t0);
    image::ImageRecord& rec = result.image;
    rec.id =
        image::sha256_text("shipshape image 1\nbase " + base_manifest + "\nlayer\n" + layer->text);
    rec.name = spec.name;
    rec.created = iso_utc(now);
    rec.parent = base_key;
    {
        std::error_code rel_ec;
        auto rel = fs::relative(fs::absolute(spec_file), m_project.root, rel_ec);
        rec.spec =
            !rel_ec && !rel.empty() && rel.string().rfind("..", 0) != 0 ? rel.string() : spec_file;
    }
    rec.spec_sha256 = image::sha256_text(spec_text);
    rec.snapshot = spec.hosts.empty() ? "" : join(spec.hosts, ",") + " at " + spec.taken;
    rec.release = spec.release;
    rec.architecture = spec.architecture;
    rec.limits = spec.limits;
    rec.roles = spec.roles;
    rec.packages = fs::exists(tmp + "/layer/var/lib/dpkg/status") ? installed_in(tmp + "/layer")
                                                                  : installed_in(base_rootfs);
    auto base_m = os::read_whole_file(images + "/bases/" + base_key + "/base.json");
    rec.files = layer->files;
    rec.bytes = layer->bytes;
    const std::string final_dir = images + "/" + rec.id;
    rec.dir = final_dir;
    rec.base_rootfs = base_rootfs;
    if (fs::exists(final_dir + "/image.json")) {
        result.existed = true;
        cleanup();
        auto existing = image::resolve_image(images, rec.id);
        if (existing) {
            rec = *existing;
        }
    } else {
        if (auto st = os::write_whole_file_atomic(tmp + "/manifest.txt", layer->text); !st) {
            cleanup();
            return fail(st.error());
        }
        if (auto st = os::write_whole_file_atomic(tmp + "/image.json", image::record_json(rec));
            !st) {
            cleanup();
            return fail(st.error());
        }
        fs::remove_all(final_dir, ec);  // a directory without image.json is not an image
        fs::rename(tmp, final_dir, ec);
        if (ec) {
            cleanup();
            return fail(Errc::io, "registering image " + final_dir + ": " + ec.message());
        }
    }
    if (auto st = image::set_name(images, spec.name, rec.id); !st) {
        return fail(st.error());
    }
    return result;
}

Result<std::vector<std::string>> ImageService::remove(const std::string& ref) {
    const std::string images = images_dir(m_project);
    auto img = image::resolve_image(images, ref);
    if (!img) {
        return fail(img.error());
    }
    // A lab whose hosts sit on this image keeps it (lab.json names the image id).
    if (auto lab = os::read_whole_file(m_project.state_dir() + "/lab/lab.json");
        lab && lab->find(img->id) != std::string::npos) {
        return fail(Errc::conflict, "image " + img->name + " (" + img->id.substr(0, 12) +
                                        ") is used by the lab; run `shipshape lab down` first");
    }
    return image::remove_image(images, *img);
}

const std::vector<std::string>& lab_packages() {
    static const std::vector<std::string> k_list = [] {
        std::vector<std::string> out;
        std::string text = k_lab_packages_text;
        size_t pos = 0;
        while (pos < text.size()) {
            size_t nl = text.find('\n', pos);
            std::string line =
                text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            pos = nl == std::string::npos ? text.size() : nl + 1;
            if (!line.empty() && line[0] != '#') {
                out.push_back(line);
            }
        }
        return out;
    }();
    return k_list;
}

}  // namespace shipshape::app
