// build_package: plans the payload from the spec's mappings, then writes the archives
// (deb_write_archive.cpp), the manifest and the control members, and renames the results into
// place.
#include "package/build.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>

#include "core/text.hpp"
#include "package/deb_write.hpp"
#include "state/hash.hpp"

namespace shipshape::package {

namespace {

std::string pos_text(const PackageSpec& spec, SourcePos pos) {
    return spec.path + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
}

std::string join(const std::string& dir, const std::string& name) {
    return dir.empty() ? name : name.empty() ? dir : dir + "/" + name;
}

std::string base_name(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The payload being planned: entries by path (no leading '/'), where each came from.
class Planner {
  public:
    Planner(const PackageSpec& spec, Diagnostics& diags, int64_t clamp)
        : m_spec(spec), m_diags(diags), m_clamp(clamp) {}

    void error(SourcePos pos, std::string message) {
        m_diags.add(m_spec.path, pos, std::move(message));
    }

    // Adds `e`; a directory over a directory merges, anything else at a taken path is an error.
    void add(PayloadEntry e, SourcePos pos) {
        auto it = m_entries.find(e.path);
        if (it != m_entries.end()) {
            if (it->second.first.type == EntryType::directory && e.type == EntryType::directory) {
                return;
            }
            error(pos, "destination '/" + e.path + "' is already in the package (from " +
                           pos_text(m_spec, it->second.second) + ")");
            return;
        }
        std::string key = e.path;
        m_entries.emplace(std::move(key), std::pair{std::move(e), pos});
    }

    void add_directory(const std::string& path, SourcePos pos, int64_t mtime) {
        PayloadEntry d;
        d.path = path;
        d.type = EntryType::directory;
        d.mode = 0755;
        d.mtime = std::min(mtime, m_clamp);
        add(std::move(d), pos);
    }

    void add_source(const FileMapping& m, const std::string& real, const std::string& dest) {
        struct stat st {};
        if (::lstat(real.c_str(), &st) != 0) {
            error(m.pos, "[[files]] source '" + real + "': " + std::strerror(errno));
            return;
        }
        if (S_ISDIR(st.st_mode)) {
            add_directory(dest, m.pos, st.st_mtime);
            walk(m, real, dest);
        } else if (S_ISREG(st.st_mode)) {
            if (dest.empty()) {
                error(m.pos,
                      "[[files]] 'destination' must name a file for the file '" + m.source + "'");
                return;
            }
            add_file(m, real, dest, st);
        } else {
            error(m.pos, "[[files]] source '" + m.source + "' is neither a file nor a directory");
        }
    }

    void add_file(const FileMapping& m, const std::string& real, const std::string& dest,
                  const struct stat& st) {
        PayloadEntry f;
        f.path = dest;
        f.type = EntryType::file;
        f.source = real;
        f.size = static_cast<uint64_t>(st.st_size);
        f.mode = m.mode ? *m.mode : ((st.st_mode & 0111) != 0 ? 0755 : 0644);
        f.owner = m.owner;
        f.group = m.group;
        f.mtime = std::min<int64_t>(st.st_mtime, m_clamp);
        add(std::move(f), m.pos);
    }

    // Everything below the directory `real`, not following symlinks (they are packaged as
    // symlinks, so nothing outside the spec's directory is ever read).
    void walk(const FileMapping& m, const std::string& real, const std::string& dest) {
        DIR* d = ::opendir(real.c_str());
        if (d == nullptr) {
            error(m.pos, "[[files]] reading the directory '" + real + "': " + std::strerror(errno));
            return;
        }
        std::vector<std::string> names;
        while (dirent* ent = ::readdir(d)) {
            std::string n = ent->d_name;
            if (n != "." && n != "..") {
                names.push_back(std::move(n));
            }
        }
        ::closedir(d);
        std::sort(names.begin(), names.end());
        for (const auto& n : names) {
            std::string path = real + "/" + n;
            std::string to = join(dest, n);
            struct stat st {};
            if (::lstat(path.c_str(), &st) != 0) {
                error(m.pos, "[[files]] '" + path + "': " + std::strerror(errno));
            } else if (S_ISDIR(st.st_mode)) {
                add_directory(to, m.pos, st.st_mtime);
                walk(m, path, to);
            } else if (S_ISREG(st.st_mode)) {
                add_file(m, path, to, st);
            } else if (S_ISLNK(st.st_mode)) {
                std::vector<char> buf(4096);
                ssize_t len = ::readlink(path.c_str(), buf.data(), buf.size() - 1);
                if (len <= 0) {
                    error(m.pos, "[[files]] reading the symlink '" + path + "' failed");
                    continue;
                }
                add_link(to, std::string(buf.data(), static_cast<size_t>(len)), m.pos,
                         std::min<int64_t>(st.st_mtime, m_clamp), m.owner, m.group);
            } else {
                error(m.pos, "[[files]] '" + path +
                                 "' is not a file, directory or symlink (devices, fifos and "
                                 "sockets cannot be packaged)");
            }
        }
    }

    void add_link(const std::string& path, const std::string& target, SourcePos pos, int64_t mtime,
                  const std::string& owner, const std::string& group) {
        // A relative target must stay inside the package root once installed.
        if (target.front() != '/') {
            std::string why;
            size_t slash = path.rfind('/');
            std::string from = slash == std::string::npos ? "" : path.substr(0, slash);
            int depth =
                from.empty() ? 0 : static_cast<int>(std::count(from.begin(), from.end(), '/') + 1);
            size_t start = 0;
            while (start <= target.size()) {
                size_t next = target.find('/', start);
                std::string part =
                    target.substr(start, next == std::string::npos ? next : next - start);
                depth += part == ".." ? -1 : (part.empty() || part == "." ? 0 : 1);
                if (depth < 0) {
                    error(pos,
                          "symlink '/" + path + "' -> '" + target + "' escapes the package root");
                    return;
                }
                if (next == std::string::npos) {
                    break;
                }
                start = next + 1;
            }
        }
        PayloadEntry l;
        l.path = path;
        l.type = EntryType::symlink;
        l.mode = 0777;
        l.target = target;
        l.owner = owner;
        l.group = group;
        l.mtime = mtime;
        add(std::move(l), pos);
    }

    void plan_mapping(const FileMapping& m) {
        if (m.source.find_first_of("*?[") == std::string::npos) {
            std::string why;
            auto real = resolve_source(m_spec.dir, m.source, why);
            if (!real) {
                error(m.pos, "[[files]] source '" + m.source + "' " + why);
                return;
            }
            struct stat st {};
            bool is_dir = ::stat(real->c_str(), &st) == 0 && S_ISDIR(st.st_mode);
            std::string dest =
                m.into && !is_dir ? join(m.destination, base_name(*real)) : m.destination;
            add_source(m, *real, dest);
            return;
        }
        glob_t g{};
        std::string pattern = m_spec.dir + "/" + m.source;
        int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
        std::vector<std::string> matches;
        for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) {
            matches.emplace_back(g.gl_pathv[i]);
        }
        ::globfree(&g);
        if (matches.empty()) {
            error(m.pos, "[[files]] source '" + m.source + "' matches nothing");
            return;
        }
        std::sort(matches.begin(), matches.end());
        for (const auto& match : matches) {
            std::string rel = match.substr(m_spec.dir.size() + 1);
            std::string why;
            auto real = resolve_source(m_spec.dir, rel, why);
            if (!real) {
                error(m.pos, "[[files]] source '" + rel + "' (from '" + m.source + "') " + why);
                continue;
            }
            add_source(m, *real, join(m.destination, base_name(match)));
        }
    }

    // Adds the missing parents of every entry; a parent that is not a directory is an error.
    void add_parents() {
        std::vector<std::pair<std::string, SourcePos>> missing;
        for (const auto& [path, item] : m_entries) {
            std::string p = path;
            while (!p.empty()) {
                size_t slash = p.rfind('/');
                p = slash == std::string::npos ? "" : p.substr(0, slash);
                auto it = m_entries.find(p);
                if (it == m_entries.end()) {
                    missing.emplace_back(p, item.second);
                } else if (it->second.first.type != EntryType::directory) {
                    error(item.second, "destination '/" + path + "' needs '/" + p +
                                           "' to be a directory, but it is given as a " +
                                           std::string(entry_type_name(it->second.first.type)) +
                                           " at " + pos_text(m_spec, it->second.second));
                    break;
                }
            }
        }
        for (const auto& [p, pos] : missing) {
            add_directory(p, pos, m_clamp);
        }
    }

    std::vector<PayloadEntry> take() {
        std::vector<PayloadEntry> out;
        out.reserve(m_entries.size());
        for (auto& [path, item] : m_entries) {
            out.push_back(std::move(item.first));
        }
        return out;
    }

    const PayloadEntry* find(const std::string& path) const {
        auto it = m_entries.find(path);
        return it == m_entries.end() ? nullptr : &it->second.first;
    }
    PayloadEntry* find(const std::string& path) {
        auto it = m_entries.find(path);
        return it == m_entries.end() ? nullptr : &it->second.first;
    }

  private:
    const PackageSpec& m_spec;
    Diagnostics& m_diags;
    int64_t m_clamp;
    // Sorted by path: a parent always sorts before its children ("a" < "a/b").
    std::map<std::string, std::pair<PayloadEntry, SourcePos>> m_entries;
};

}  // namespace

std::string_view compression_name(Compression c) {
    switch (c) {
        case Compression::zstd:
            return "zstd";
        case Compression::xz:
            return "xz";
        case Compression::gzip:
            return "gzip";
        case Compression::none:
            return "none";
    }
    return "zstd";
}

std::optional<Compression> parse_compression(std::string_view name) {
    for (auto c : {Compression::zstd, Compression::xz, Compression::gzip, Compression::none}) {
        if (compression_name(c) == name) {
            return c;
        }
    }
    return std::nullopt;
}

Result<std::vector<PayloadEntry>> plan_payload(const PackageSpec& spec, int64_t clamp) {
    Diagnostics diags;
    Planner p(spec, diags, clamp);
    p.add_directory("", SourcePos{}, clamp);
    for (const auto& m : spec.files) {
        p.plan_mapping(m);
    }
    for (const auto& l : spec.links) {
        p.add_link(l.path, l.target, l.pos, clamp, "root", "root");
    }
    p.add_parents();
    std::map<std::string, SourcePos> seen;
    for (const auto& [path, pos] : spec.conffiles) {
        if (auto [it, fresh] = seen.emplace(path, pos); !fresh) {
            p.error(pos, "conffile '" + path + "' is listed twice (also at " +
                             pos_text(spec, it->second) + ")");
            continue;
        }
        PayloadEntry* e = p.find(path.substr(1));
        if (e == nullptr || e->type != EntryType::file) {
            p.error(pos, "conffile '" + path + "' is not a file in the package" +
                             (e == nullptr
                                  ? ""
                                  : " (it is a " + std::string(entry_type_name(e->type)) + ")"));
        } else {
            e->keep_content = true;
        }
    }
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    return p.take();
}

}  // namespace shipshape::package
