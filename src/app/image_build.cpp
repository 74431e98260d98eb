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
#include "app/image_tools.hpp"
#include "image/manifest.hpp"
#include "image/registry.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

namespace fs = std::filesystem;
using image_tools::as_host_json;
using image_tools::installed_in;
using image_tools::iso_utc;
using image_tools::join;
using image_tools::seconds_since;
using image_tools::tmp_name;

namespace {

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

}  // namespace shipshape::app
