// image build: the package base with mmdebstrap (cached by its package set), then the spec's
// users and roles applied as an overlay layer, then a content-addressed record. A build that
// does not finish leaves only a tmp-* directory, which is not an image and is cleaned up by
// the next build.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <set>

#include "app/image_service.hpp"
#include "image/manifest.hpp"
#include "image/registry.hpp"
#include "lab_packages.inc"
#include "os/file_system.hpp"

namespace shipshape::app {

namespace fs = std::filesystem;

namespace {

std::string iso_utc(int64_t seconds) {
    std::time_t t = seconds;
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// SOURCE_DATE_EPOCH when set and valid, else now.
std::optional<int64_t> source_date_epoch() {
    const char* s = std::getenv("SOURCE_DATE_EPOCH");
    if (!s || !*s) {
        return std::nullopt;
    }
    char* end = nullptr;
    long long v = std::strtoll(s, &end, 10);
    if (*end != '\0' || v < 0) {
        return std::nullopt;
    }
    return static_cast<int64_t>(v);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// This machine's apt sources: the files mmdebstrap is given, and their text (for the key).
std::pair<std::vector<std::string>, std::string> host_sources() {
    std::vector<std::string> files;
    if (fs::exists("/etc/apt/sources.list")) {
        files.emplace_back("/etc/apt/sources.list");
    }
    std::error_code ec;
    std::vector<std::string> parts;
    for (fs::directory_iterator it("/etc/apt/sources.list.d", ec), end; !ec && it != end;
         it.increment(ec)) {
        std::string p = it->path().string();
        if (p.size() > 5 && (p.ends_with(".list") || p.ends_with(".sources"))) {
            parts.push_back(p);
        }
    }
    std::sort(parts.begin(), parts.end());
    files.insert(files.end(), parts.begin(), parts.end());
    std::string text;
    std::vector<std::string> nonempty;
    for (const auto& f : files) {
        auto t = os::read_whole_file(f);
        if (t && t->find_first_not_of(" \t\n") != std::string::npos) {
            text += f + "\n" + *t + "\n";
            nonempty.push_back(f);
        }
    }
    return {nonempty, text};
}

// Keeps the last lines mmdebstrap printed and passes "I:"/"E:"/"W:" lines on as progress.
struct ToolSink final : os::OutputSink {
    std::function<void(const std::string&)> progress;
    std::string partial;
    std::vector<std::string> tail;
    std::vector<std::string> errors;
    void on_output(std::string_view chunk) override {
        partial.append(chunk);
        size_t nl = 0;
        while ((nl = partial.find('\n')) != std::string::npos) {
            std::string line = partial.substr(0, nl);
            partial.erase(0, nl + 1);
            if (line.rfind("E: ", 0) == 0) {
                errors.push_back(line);
            }
            if (progress && (line.rfind("I: ", 0) == 0 || line.rfind("E: ", 0) == 0 ||
                             line.rfind("W: ", 0) == 0)) {
                progress("  mmdebstrap " + line);
            }
            tail.push_back(line);
            if (tail.size() > 30) {
                tail.erase(tail.begin());
            }
        }
    }
};

// apt's own complaints ("E: Version '9.9' for 'libc6' was not found") are the reason; the
// generic "mmdebstrap failed" lines after them are not.
std::string tool_failure(const ToolSink& sink) {
    std::string why;
    for (const auto& e : sink.errors) {
        if (e.find("mmdebstrap failed") != std::string::npos ||
            e.find("setup failed") != std::string::npos) {
            continue;
        }
        why += (why.empty() ? "" : "\n  ") + e;
    }
    if (why.empty()) {
        for (const auto& l : sink.tail) {
            why += "\n  " + l;
        }
    }
    return why;
}

// Removes tmp-<pid>-* directories whose build process is gone (killed builds).
void clean_stale(const std::string& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string n = it->path().filename().string();
        if (n.rfind("tmp-", 0) != 0) {
            continue;
        }
        pid_t pid = static_cast<pid_t>(std::atol(n.c_str() + 4));
        if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
            fs::remove_all(it->path(), ec);
        }
    }
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
    image::PackagePin cur;
    bool installed = false;
    auto flush = [&] {
        if (!cur.name.empty() && installed) {
            out.push_back(cur);
        }
        cur = {};
        installed = false;
    };
    size_t pos = 0;
    while (pos <= status->size()) {
        size_t nl = status->find('\n', pos);
        std::string line =
            status->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? status->size() + 1 : nl + 1;
        if (line.empty()) {
            flush();
        } else if (line.rfind("Package: ", 0) == 0) {
            cur.name = line.substr(9);
        } else if (line.rfind("Version: ", 0) == 0) {
            cur.version = line.substr(9);
        } else if (line.rfind("Architecture: ", 0) == 0) {
            cur.architecture = line.substr(14);
        } else if (line.rfind("Status: ", 0) == 0) {
            installed = line.ends_with(" installed");
        }
    }
    flush();
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.name, a.architecture) < std::tie(b.name, b.architecture);
    });
    return out;
}

bool on_path(const std::string& tool) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
        size_t colon = p.find(':', start);
        std::string dir =
            p.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        if (!dir.empty() && ::access((dir + "/" + tool).c_str(), X_OK) == 0) {
            return true;
        }
        if (colon == std::string::npos) {
            break;
        }
        start = colon + 1;
    }
    return false;
}

}  // namespace

namespace {

// Run by mmdebstrap on the finished root ($1): host keys are per host, not per image (the lab
// makes its own); apt's partial directories are owned by _apt or root depending on whether
// apt ran after the _apt user existed, so they are made root's (builds compare equal).
constexpr const char* k_customize =
    "rm -f \"$1\"/etc/ssh/ssh_host_*; for d in \"$1\"/var/cache/apt/archives/partial "
    "\"$1\"/var/lib/apt/lists/partial; do if [ -d \"$d\" ]; then chown 0:0 \"$d\"; fi; done";

struct BaseInfo {
    std::string key;
    std::string dir;
    std::string manifest_sha256;
};

// Every --include, pinned where the spec pins, lab packages after (unpinned: the mirror's).
std::vector<std::string> includes_of(const image::Spec& spec) {
    std::vector<std::string> out;
    std::set<std::string> named;
    for (const auto& p : spec.packages) {
        std::string n = p.architecture.empty() ? p.name : p.name + ":" + p.architecture;
        out.push_back(n + "=" + p.version);
        named.insert(p.name);
    }
    if (spec.lab) {
        for (const auto& p : lab_packages()) {
            if (!named.count(p)) {
                out.push_back(p);
            }
        }
    }
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

}  // namespace

Result<BuildResult> ImageService::build(const BuildOptions& options) {
    auto say = [&](const std::string& line) {
        if (options.progress) {
            options.progress(line);
        }
    };
    const std::string spec_file = options.spec_path;
    auto text = os::read_whole_file(spec_file);
    if (!text) {
        return fail(text.error());
    }
    auto parsed = image::parse_spec(*text, spec_file);
    if (!parsed) {
        return fail(parsed.error());
    }
    image::Spec spec = std::move(*parsed);
    if (!options.name.empty()) {
        if (!image::valid_image_name(options.name)) {
            return fail(Errc::invalid_argument,
                        "--name '" + options.name +
                            "': 1-64 of a-z 0-9 - _ ., starting with a letter or digit");
        }
        spec.name = options.name;
    }
    // Every role must be known before anything is built.
    std::vector<std::string> state_files;
    for (const auto& role : spec.roles) {
        auto it = m_project.config.roles.find(role);
        if (it == m_project.config.roles.end()) {
            return fail(
                Errc::invalid_definition,
                spec_file + ": role '" + role +
                    "' is not in shipshape.toml's [roles]; known roles: " + [&] {
                        std::vector<std::string> k;
                        for (const auto& [r, files] : m_project.config.roles) {
                            k.push_back(r);
                        }
                        return k.empty() ? std::string("none") : join(k, ", ");
                    }());
        }
        state_files.insert(state_files.end(), it->second.begin(), it->second.end());
    }
    if ((!spec.roles.empty() || !spec.users.empty()) && !m_overlay) {
        return fail(Errc::unsupported, "applying roles and users needs the overlay launcher");
    }
    if (!on_path("mmdebstrap")) {
        return fail(Errc::unsupported,
                    "image build needs mmdebstrap, which is not installed: apt-get install "
                    "mmdebstrap (scripts/install-deps.sh installs it)");
    }
    const std::string images = images_dir(m_project);
    const std::string bases = images + "/bases";
    std::error_code ec;
    fs::create_directories(bases, ec);
    if (ec) {
        return fail(Errc::io, "creating " + bases + ": " + ec.message());
    }
    clean_stale(images);
    clean_stale(bases);
    const auto epoch = source_date_epoch();
    const int64_t now = epoch.value_or(std::time(nullptr));

    // 1. The package base.
    auto [source_files, source_text] = host_sources();
    std::vector<std::string> mirrors = spec.sources.empty() ? source_files : spec.sources;
    if (mirrors.empty()) {
        return fail(Errc::invalid_argument,
                    "no apt sources: this machine has none in /etc/apt/sources.list(.d) and " +
                        spec_file + " gives no [image] sources");
    }
    const std::vector<std::string> includes = includes_of(spec);
    const std::string key_text = "shipshape image base 2\nrelease " + spec.release + "\narch " +
                                 spec.architecture + "\nvariant " + spec.variant + "\nsources\n" +
                                 (spec.sources.empty() ? source_text : join(spec.sources, "\n")) +
                                 "\ninclude\n" + join(includes, "\n") + "\n";
    BuildResult result;
    BaseInfo base;
    base.key = image::sha256_text(key_text);
    base.dir = bases + "/" + base.key;
    const bool cached = fs::exists(base.dir + "/base.json");
    auto t0 = std::chrono::steady_clock::now();
    if (cached && !options.no_cache) {
        result.base_cached = true;
        auto m = os::read_whole_file(base.dir + "/manifest.sha256");
        if (!m) {
            return fail(m.error());
        }
        base.manifest_sha256 = *m;
        say("base " + base.key.substr(0, 12) + ": cached");
    } else {
        std::string tmp = tmp_name(bases);
        fs::create_directories(tmp, ec);
        say("base " + base.key.substr(0, 12) + ": mmdebstrap " + spec.release + " " +
            spec.architecture + " (" + spec.variant + " + " + std::to_string(includes.size()) +
            " packages)");
        std::vector<std::string> argv = {
            "mmdebstrap",
            "--variant=" + spec.variant,
            std::string("--mode=") + (::geteuid() == 0 ? "root" : "unshare"),
            "--architectures=" + spec.architecture,
            "--skip=check/signed-by",
            std::string("--customize-hook=") + k_customize};
        if (!includes.empty()) {
            argv.push_back("--include=" + join(includes, ","));
        }
        argv.push_back(spec.release);
        argv.push_back(tmp + "/rootfs");
        argv.insert(argv.end(), mirrors.begin(), mirrors.end());
        os::ProcessSpec ps;
        ps.argv = argv;
        ps.errors = os::Stderr::merged;
        ToolSink sink;
        sink.progress = options.progress;
        auto outcome = m_runner.run(ps, sink, nullptr);
        if (!outcome || !outcome->success()) {
            fs::remove_all(tmp, ec);
            return fail(outcome ? Errc::io : outcome.error().code(),
                        "building the package base failed (mmdebstrap " + spec.release +
                            "): " + (outcome ? tool_failure(sink) : outcome.error().message()));
        }
        auto manifest = image::manifest_of(tmp + "/rootfs");
        if (!manifest) {
            fs::remove_all(tmp, ec);
            return fail(manifest.error());
        }
        base.manifest_sha256 = image::sha256_text(manifest->text);
        std::string base_json = "{\"key\": \"" + base.key + "\", \"manifest_sha256\": \"" +
                                base.manifest_sha256 + "\", \"created\": \"" + iso_utc(now) +
                                "\", \"files\": " + std::to_string(manifest->files) +
                                ", \"bytes\": " + std::to_string(manifest->bytes) + "}\n";
        for (const auto& [name, data] :
             {std::pair<std::string, std::string>{"manifest.txt", manifest->text},
              {"manifest.sha256", base.manifest_sha256},
              {"key.txt", key_text},
              {"base.json", base_json}}) {
            if (auto st = os::write_whole_file_atomic(tmp + "/" + name, data); !st) {
                fs::remove_all(tmp, ec);
                return fail(st.error());
            }
        }
        if (cached) {
            // --no-cache: the cached base stays (images sit on it); say whether it is the same.
            auto old = os::read_whole_file(base.dir + "/manifest.sha256");
            result.base_identical = old && *old == base.manifest_sha256;
            fs::rename(tmp + "/manifest.txt", base.dir + "/manifest.rebuilt.txt", ec);
            fs::remove_all(tmp, ec);
            base.manifest_sha256 = old ? *old : base.manifest_sha256;
        } else {
            fs::rename(tmp, base.dir, ec);
            if (ec) {
                fs::remove_all(tmp, ec);
                return fail(Errc::io, "registering base " + base.dir + ": " + ec.message());
            }
        }
    }
    result.base_seconds = seconds_since(t0);
    return build_layer(spec, spec_file, *text, state_files, base.key, base.manifest_sha256, now,
                       epoch.has_value(), options, std::move(result));
}

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
        std::vector<std::string> argv = {options.self_exe.empty()
                                             ? fs::read_symlink("/proc/self/exe", ec).string()
                                             : options.self_exe,
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
