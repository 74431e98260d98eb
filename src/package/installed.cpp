#include "package/installed.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <unordered_map>
#include <vector>

#include "core/text.hpp"
#include "os/errno_error.hpp"
#include "os/file_system.hpp"
#include "package/read.hpp"
#include "state/hash.hpp"

namespace shipshape::package {

namespace {

constexpr size_t k_chunk = 1 << 20;

// Whether the sorted `paths` hold one beneath `dir` ("dir/...").
bool has_paths_beneath(const std::vector<std::string>& paths, const std::string& dir) {
    std::string prefix = dir + "/";
    auto it = std::lower_bound(paths.begin(), paths.end(), prefix);
    return it != paths.end() && it->starts_with(prefix);
}

// Lines of `text`, without their "\n".
std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    size_t at = 0;
    while (at < text.size()) {
        size_t nl = text.find('\n', at);
        if (nl == std::string_view::npos) {
            nl = text.size();
        }
        out.push_back(text.substr(at, nl - at));
        at = nl + 1;
    }
    return out;
}

std::vector<std::string_view> words_of(std::string_view line) {
    std::vector<std::string_view> out;
    size_t at = 0;
    while (at < line.size()) {
        while (at < line.size() && is_blank(line[at])) {
            ++at;
        }
        size_t end = at;
        while (end < line.size() && !is_blank(line[end])) {
            ++end;
        }
        if (end > at) {
            out.push_back(line.substr(at, end - at));
        }
        at = end;
    }
    return out;
}

// id -> name from a passwd or group file (name:x:id:...); empty when it cannot be read.
std::unordered_map<uint32_t, std::string> id_names(const std::string& path) {
    std::unordered_map<uint32_t, std::string> out;
    auto text = os::read_whole_file(path);
    if (!text) {
        return out;
    }
    for (auto line : lines_of(*text)) {
        size_t a = line.find(':');
        size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
        size_t c = b == std::string_view::npos ? b : line.find(':', b + 1);
        if (c == std::string_view::npos) {
            continue;
        }
        std::string id(line.substr(b + 1, c - b - 1));
        char* end = nullptr;
        unsigned long v = std::strtoul(id.c_str(), &end, 10);
        if (!id.empty() && end && *end == '\0') {
            out.emplace(static_cast<uint32_t>(v), std::string(line.substr(0, a)));
        }
    }
    return out;
}

struct Stanza {
    Manifest control;  // control, package, version, architecture, relations
    std::string status;
    std::string conffiles;  // the Conffiles field
};

// The installed stanza of `package` (and `arch`, when given) in dpkg's status file.
Result<Stanza> find_stanza(std::string_view status, const std::string& root,
                           const std::string& package, const std::string& arch,
                           const std::string& name) {
    size_t at = 0;
    bool seen = false;
    while (at < status.size()) {
        size_t end = status.find("\n\n", at);
        if (end == std::string_view::npos) {
            end = status.size();
        }
        std::string_view para = status.substr(at, end - at);
        at = end + 2;
        if (!para.starts_with("Package: " + package + "\n")) {
            continue;
        }
        Stanza s;
        if (auto st = parse_control_file(para, root + "/var/lib/dpkg/status", s.control); !st) {
            return fail(st.error());
        }
        if (!arch.empty() && s.control.architecture != arch) {
            continue;
        }
        seen = true;
        s.status = s.control.field("Status");
        auto words = words_of(s.status);
        std::string_view state = words.size() == 3 ? words[2] : std::string_view();
        if (state == "not-installed" || state == "config-files" || state.empty()) {
            continue;
        }
        s.conffiles = s.control.field("Conffiles");
        std::erase_if(s.control.control, [](const ControlField& f) {
            return f.name == "Status" || f.name == "Conffiles" || f.name == "Config-Version";
        });
        return s;
    }
    return fail(Errc::not_found, "package '" + name + "' is not installed under " + root +
                                     (seen ? " (only its configuration files remain)" : ""));
}

struct Hashes {
    std::string sha256;
    std::string md5;
    uint64_t size = 0;
    std::string content;  // up to the inline conffile limit, when kept
};

// SHA-256 and MD5 of the file at `path` in one read; keeps its bytes when `keep`.
Result<Hashes> hash_file(const std::string& path, bool keep, state::Digest& sha, state::Digest& md5,
                         std::vector<char>& buf) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return fail(os::errno_error("reading '" + path + "'", errno));
    }
    Hashes h;
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return fail(os::errno_error("reading '" + path + "'", err));
        }
        if (n == 0) {
            break;
        }
        sha.update(buf.data(), static_cast<size_t>(n));
        md5.update(buf.data(), static_cast<size_t>(n));
        if (keep && h.content.size() <= k_max_inline_conffile) {
            h.content.append(buf.data(), static_cast<size_t>(n));
        }
        h.size += static_cast<uint64_t>(n);
    }
    ::close(fd);
    h.sha256 = sha.finish_hex();
    h.md5 = md5.finish_hex();
    return h;
}

// "path" -> md5 from an md5sums file ("<md5>  usr/bin/x").
std::unordered_map<std::string, std::string> parse_md5sums(std::string_view text) {
    std::unordered_map<std::string, std::string> out;
    for (auto line : lines_of(text)) {
        if (line.size() < 34 || line[32] != ' ') {
            continue;
        }
        std::string_view rest = line.substr(33);
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '*')) {
            rest.remove_prefix(1);
        }
        std::string path = rest.starts_with("/") ? std::string(rest) : "/" + std::string(rest);
        out.emplace(std::move(path), std::string(line.substr(0, 32)));
    }
    return out;
}

class InstalledReader {
  public:
    InstalledReader(std::string root, std::string name)
        : m_root(std::move(root)), m_name(std::move(name)) {
        while (m_root.size() > 1 && m_root.back() == '/') {
            m_root.pop_back();
        }
        m_prefix = m_root == "/" ? "" : m_root;
    }

    Result<Manifest> read() {
        std::string package = m_name;
        std::string arch;
        if (size_t colon = m_name.find(':'); colon != std::string::npos) {
            package = m_name.substr(0, colon);
            arch = m_name.substr(colon + 1);
        }
        auto status = os::read_whole_file(m_prefix + "/var/lib/dpkg/status");
        if (!status) {
            return fail(status.error());
        }
        auto stanza = find_stanza(*status, m_root, package, arch, m_name);
        if (!stanza) {
            return fail(stanza.error());
        }
        m_manifest = std::move(stanza->control);
        std::string info = m_prefix + "/var/lib/dpkg/info/";
        // Multi-Arch: same packages keep NAME:ARCH.*; the others NAME.*.
        std::string base = package + ":" + m_manifest.architecture;
        auto list = os::read_whole_file(info + base + ".list");
        if (!list && list.error().code() == Errc::not_found) {
            base = package;
            list = os::read_whole_file(info + base + ".list");
        }
        if (!list) {
            return fail(list.error());
        }
        auto sums = os::read_whole_file(info + base + ".md5sums");
        auto md5sums = sums ? parse_md5sums(*sums) : decltype(parse_md5sums("")){};
        if (auto st = read_info_dir(info, base); !st) {
            return fail(st.error());
        }
        read_conffiles(stanza->conffiles);
        if (auto st = read_files(*list, md5sums); !st) {
            return fail(st.error());
        }
        sort_manifest(m_manifest);
        return std::move(m_manifest);
    }

  private:
    Status read_info_dir(const std::string& info, const std::string& base) {
        DIR* dir = ::opendir(info.c_str());
        if (!dir) {
            return fail(os::errno_error("reading '" + info + "'", errno));
        }
        std::vector<std::string> suffixes;
        while (dirent* d = ::readdir(dir)) {
            std::string_view file = d->d_name;
            if (file.size() <= base.size() + 1 || !file.starts_with(base) ||
                file[base.size()] != '.') {
                continue;
            }
            std::string suffix(file.substr(base.size() + 1));
            // Another package's file: "libgtk2.0-0.list" is not "libgtk2"'s.
            if (suffix != k_manifest_member && suffix.find('.') != std::string::npos) {
                continue;
            }
            if (suffix != "list" && suffix != "md5sums" && suffix != "conffiles") {
                suffixes.push_back(std::move(suffix));
            }
        }
        ::closedir(dir);
        for (const auto& suffix : suffixes) {
            auto text = os::read_whole_file(info + base + "." + suffix);
            if (!text) {
                return fail(text.error());
            }
            if (suffix == k_manifest_member) {
                m_manifest.requirements = embedded_requirements(*text);
            } else {
                m_manifest.scripts[suffix] =
                    Script{replace_invalid_utf8(*text), state::sha256_hex(*text)};
            }
        }
        return {};
    }

    // The conffiles dpkg records for the package, with their md5 as shipped; obsolete ones
    // (no longer in the package) are left out.
    void read_conffiles(std::string_view field) {
        for (auto line : lines_of(field)) {
            auto words = words_of(line);
            if (words.size() < 2 ||
                std::find(words.begin() + 2, words.end(), "obsolete") != words.end()) {
                continue;
            }
            m_conffile_md5.emplace(std::string(words[0]), std::string(words[1]));
        }
    }

    Status read_files(std::string_view list,
                      const std::unordered_map<std::string, std::string>& md5sums) {
        auto users = id_names(m_prefix + "/etc/passwd");
        auto groups = id_names(m_prefix + "/etc/group");
        auto name_of = [](const std::unordered_map<uint32_t, std::string>& names, uint32_t id) {
            auto it = names.find(id);
            return it == names.end() ? std::to_string(id) : it->second;
        };
        std::vector<std::string> paths;
        for (auto line : lines_of(list)) {
            std::string why;
            auto path = normalise_member(line.starts_with("/") ? line.substr(1) : line, why);
            if (path && *path != "/") {
                paths.push_back(std::move(*path));
            }
        }
        std::sort(paths.begin(), paths.end());
        paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
        state::Digest sha;
        state::Digest md5(state::Digest::Kind::md5);
        std::vector<char> buf(k_chunk);
        std::map<std::pair<dev_t, ino_t>, std::string> inodes;  // hard links
        for (auto& path : paths) {
            std::string full = m_prefix + path;
            struct stat st {};
            if (::lstat(full.c_str(), &st) != 0) {
                if (errno == ENOENT || errno == ENOTDIR) {
                    continue;  // not on the box (removed, or diverted elsewhere)
                }
                return fail(os::errno_error("reading '" + full + "'", errno));
            }
            Entry e;
            e.path = path;
            e.mode = st.st_mode & 07777U;
            e.owner = name_of(users, st.st_uid);
            e.group = name_of(groups, st.st_gid);
            auto conf = m_conffile_md5.find(path);
            switch (st.st_mode & S_IFMT) {
                case S_IFREG: {
                    if (st.st_nlink > 1) {
                        auto [it, first] =
                            inodes.emplace(std::make_pair(st.st_dev, st.st_ino), path);
                        if (!first) {
                            e.type = EntryType::hardlink;
                            e.target = it->second;
                            break;
                        }
                    }
                    auto h = hash_file(full, conf != m_conffile_md5.end(), sha, md5, buf);
                    if (!h) {
                        return fail(h.error());
                    }
                    e.type = EntryType::file;
                    e.size = h->size;
                    e.sha256 = h->sha256;
                    if (auto sum = md5sums.find(path); sum != md5sums.end()) {
                        e.modified_locally = sum->second != h->md5;
                    }
                    if (conf != m_conffile_md5.end()) {
                        e.modified_locally =
                            conf->second != "newconffile" && conf->second != h->md5;
                        Conffile c = make_conffile(path, h->sha256, h->size, &h->content);
                        c.modified_locally = e.modified_locally;
                        m_manifest.conffiles.push_back(std::move(c));
                        m_conffile_md5.erase(conf);
                    }
                    break;
                }
                case S_IFDIR:
                    e.type = EntryType::directory;
                    break;
                case S_IFLNK: {
                    // A directory of the package (it has paths beneath it) that is a symlink to a
                    // directory here, as /bin -> usr/bin on a merged-/usr system: dpkg follows
                    // it, so it is that directory, as its target has it.
                    struct stat dir {};
                    if (has_paths_beneath(paths, path) && ::stat(full.c_str(), &dir) == 0 &&
                        S_ISDIR(dir.st_mode)) {
                        e.type = EntryType::directory;
                        e.mode = dir.st_mode & 07777U;
                        e.owner = name_of(users, dir.st_uid);
                        e.group = name_of(groups, dir.st_gid);
                        break;
                    }
                    e.type = EntryType::symlink;
                    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
                    ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
                    if (n < 0) {
                        return fail(os::errno_error("reading the link '" + full + "'", errno));
                    }
                    target.resize(static_cast<size_t>(n));
                    e.target = std::move(target);
                    break;
                }
                case S_IFCHR:
                    e.type = EntryType::char_device;
                    break;
                case S_IFBLK:
                    e.type = EntryType::block_device;
                    break;
                case S_IFIFO:
                    e.type = EntryType::fifo;
                    break;
                default:
                    continue;  // a socket: never shipped by a package
            }
            m_manifest.files.push_back(std::move(e));
        }
        // Conffiles dpkg knows but the host no longer has (or that are not regular files).
        for (const auto& [path, sum] : m_conffile_md5) {
            Conffile c = make_conffile(path, "", 0, nullptr);
            c.modified_locally = true;
            m_manifest.conffiles.push_back(std::move(c));
        }
        return {};
    }

    std::string m_root;
    std::string m_prefix;  // m_root without a final '/', "" for "/"
    std::string m_name;
    Manifest m_manifest;
    std::map<std::string, std::string> m_conffile_md5;  // path -> md5 as shipped
};

}  // namespace

Result<Manifest> read_installed(const std::string& root, const std::string& name) {
    return InstalledReader(root, name).read();
}

}  // namespace shipshape::package
