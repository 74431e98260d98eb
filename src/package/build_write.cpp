// build_package: the control file, the manifest and the output files around the planned payload
// (build.cpp) and the archive writers (deb_write_archive.cpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "core/text.hpp"
#include "package/build.hpp"
#include "package/deb_write.hpp"
#include "state/hash.hpp"

namespace shipshape::package {

namespace {

// A file in the output directory that is removed unless kept: an unnamed O_TMPFILE where the
// file system has them, else a named temporary.
class TempFile {
  public:
    TempFile() = default;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        if (!m_path.empty()) {
            ::unlink(m_path.c_str());
        }
    }

    // A named temporary "DIR/.STEM.XXXXXX" (renamed into place by keep_as).
    Status create_named(const std::string& dir, const std::string& stem) {
        std::string templ = dir + "/." + stem + ".XXXXXX";
        m_fd = ::mkostemp(templ.data(), O_CLOEXEC);
        if (m_fd < 0) {
            int err = errno;
            return fail(err == EACCES ? Errc::permission_denied : Errc::io,
                        "creating a file in '" + dir + "': " + std::strerror(err));
        }
        m_path = templ;
        return {};
    }

    Status create_unnamed(const std::string& dir, const std::string& stem) {
        m_fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (m_fd >= 0) {
            return {};
        }
        auto st = create_named(dir, stem);
        if (st) {
            ::unlink(m_path.c_str());
            m_path.clear();
        }
        return st;
    }

    Status write_all(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::write(m_fd, data.data(), data.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return fail(Errc::io, "writing '" + m_path + "': " + std::strerror(errno));
            }
            data.remove_prefix(static_cast<size_t>(n));
        }
        return {};
    }

    // Makes the file 0644, flushes it and renames it to `path`.
    Status keep_as(const std::string& path) {
        if (::fchmod(m_fd, 0644) != 0 || ::fsync(m_fd) != 0 ||
            ::rename(m_path.c_str(), path.c_str()) != 0) {
            return fail(Errc::io, "writing '" + path + "': " + std::strerror(errno));
        }
        m_path.clear();
        return {};
    }

    int fd() const { return m_fd; }

  private:
    int m_fd = -1;
    std::string m_path;
};

std::string description_value(const PackageSpec& spec) {
    std::string value = spec.description;
    if (spec.long_description.empty()) {
        return value;
    }
    size_t start = 0;
    const std::string& text = spec.long_description;
    while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        std::string line(trim(text.substr(start, nl == std::string::npos ? nl : nl - start)));
        value += "\n " + (line.empty() ? std::string(".") : line);
        if (nl == std::string::npos) {
            break;
        }
        start = nl + 1;
    }
    return value;
}

// Installed-Size as dpkg-gencontrol computes it: KiB per file, rounded up, plus one per other
// entry.
uint64_t installed_size(const std::vector<PayloadEntry>& entries) {
    uint64_t kib = 0;
    for (const auto& e : entries) {
        kib += e.type == EntryType::file ? (e.size + 1023) / 1024 : 1;
    }
    return kib;
}

Manifest make_manifest(const PackageSpec& spec, const std::vector<PayloadEntry>& entries,
                       const std::vector<FileDigest>& digests) {
    Manifest m;
    m.package = spec.name;
    m.version = spec.version;
    m.architecture = spec.architecture;
    auto add = [&](std::string name, std::string value) {
        if (!value.empty()) {
            m.control.push_back(ControlField{std::move(name), std::move(value)});
        }
    };
    add("Package", spec.name);
    add("Version", spec.version);
    add("Architecture", spec.architecture);
    add("Maintainer", spec.maintainer);
    add("Installed-Size", std::to_string(installed_size(entries)));
    for (const auto& r : spec.relations) {
        std::string value;
        for (const auto& rel : r.relations) {
            value += (value.empty() ? "" : ", ") + rel;
        }
        add(r.name, value);
        m.relations[r.name] = split_relations(value);
    }
    add("Section", spec.section);
    add("Priority", spec.priority);
    add("Homepage", spec.homepage);
    add("Description", description_value(spec));
    for (const auto& [name, text] : spec.scripts) {
        m.scripts[name] = Script{replace_invalid_utf8(text), state::sha256_hex(text)};
    }
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        if (e.path.empty()) {
            continue;
        }
        Entry out;
        out.path = "/" + e.path;
        out.type = e.type;
        out.mode = e.mode;
        out.owner = e.owner;
        out.group = e.group;
        out.target = e.target;
        if (e.type == EntryType::file) {
            out.size = digests[i].size;
            out.sha256 = digests[i].sha256;
        }
        if (e.keep_content) {
            Conffile c;
            c.path = out.path;
            c.sha256 = out.sha256;
            c.size = out.size;
            const std::string& content = digests[i].content;
            if (content.size() <= k_max_inline_conffile && is_valid_utf8(content) &&
                content.find('\0') == std::string::npos) {
                c.content = content;
            }
            m.conffiles.push_back(std::move(c));
        }
        m.files.push_back(std::move(out));
    }
    if (spec.requirements_path) {
        m.requirements = EmbeddedRequirements{*spec.requirements_path, spec.requirements_text};
    }
    return m;
}

std::string control_text(const Manifest& m) {
    std::string out;
    for (const auto& f : m.control) {
        out += f.name + ": " + f.value + "\n";
    }
    return out;
}

// md5sums as dh_md5sums writes it: every file but the conffiles, "MD5  path" without the
// leading '/', in path order.
std::string md5sums_text(const std::vector<PayloadEntry>& entries,
                         const std::vector<FileDigest>& digests) {
    std::string out;
    for (size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].type == EntryType::file && !entries[i].keep_content) {
            out += digests[i].md5 + "  " + entries[i].path + "\n";
        }
    }
    return out;
}

}  // namespace

Result<BuildResult> build_package(const PackageSpec& spec, const BuildOptions& o) {
    int64_t clamp = o.source_date_epoch ? *o.source_date_epoch : std::time(nullptr);
    auto entries = plan_payload(spec, clamp);
    if (!entries) {
        return fail(entries.error());
    }
    std::string dir = o.out_dir.empty() ? "." : o.out_dir;
    std::string stem =
        spec.name + "_" + version_without_epoch(spec.version) + "_" + spec.architecture;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return fail(Errc::io,
                    "creating the output directory '" + dir + "': " + std::strerror(errno));
    }
    BuildResult result;
    result.deb_path = dir + "/" + stem + ".deb";
    result.manifest_path = dir + "/" + stem + ".manifest.json";

    TempFile data;
    TempFile control;
    TempFile deb;
    TempFile manifest_file;
    for (auto* t : {&data, &control}) {
        if (auto st = t->create_unnamed(dir, stem); !st) {
            return fail(st.error());
        }
    }
    if (auto st = deb.create_named(dir, stem + ".deb"); !st) {
        return fail(st.error());
    }
    if (auto st = manifest_file.create_named(dir, stem + ".manifest.json"); !st) {
        return fail(st.error());
    }
    std::vector<FileDigest> digests;
    if (auto st = write_data_tar(data.fd(), *entries, o, digests); !st) {
        return fail(st.error());
    }
    result.manifest = make_manifest(spec, *entries, digests);
    std::string manifest_json = manifest_to_json(result.manifest);

    std::vector<TarMember> members;
    members.push_back({"control", control_text(result.manifest), 0644});
    std::string md5sums = md5sums_text(*entries, digests);
    if (!md5sums.empty()) {
        members.push_back({"md5sums", md5sums, 0644});
    }
    if (!result.manifest.conffiles.empty()) {
        std::string text;
        for (const auto& c : result.manifest.conffiles) {
            text += c.path + "\n";
        }
        members.push_back({"conffiles", text, 0644});
    }
    for (const auto& [name, text] : spec.scripts) {
        members.push_back({name, text, name == "triggers" ? 0644U : 0755U});
    }
    members.push_back({std::string(k_manifest_member), manifest_json, 0644});
    std::sort(members.begin(), members.end(),
              [](const TarMember& a, const TarMember& b) { return a.name < b.name; });
    if (auto st = write_control_tar(control.fd(), members, o, clamp); !st) {
        return fail(st.error());
    }
    if (auto st = write_deb_ar(deb.fd(), control.fd(), data.fd(), o, clamp); !st) {
        return fail(st.error());
    }
    if (auto st = manifest_file.write_all(manifest_json); !st) {
        return fail(st.error());
    }
    if (auto st = deb.keep_as(result.deb_path); !st) {
        return fail(st.error());
    }
    if (auto st = manifest_file.keep_as(result.manifest_path); !st) {
        ::unlink(result.deb_path.c_str());
        return fail(st.error());
    }
    return result;
}

}  // namespace shipshape::package
