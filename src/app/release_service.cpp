// Releases: hashing their inputs into a document, writing and finding the records.
#include "app/release_service.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include "app/runs.hpp"
#include "os/file_system.hpp"
#include "package/manifest.hpp"
#include "package/read.hpp"
#include "state/hash.hpp"

namespace shipshape::app {

namespace {

// A Debian package by its ar magic, whatever its name (8 bytes read).
bool is_deb(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        return false;
    }
    char magic[8] = {};
    size_t n = std::fread(magic, 1, sizeof magic, f);
    std::fclose(f);
    return n == sizeof magic && std::string_view(magic, n) == "!<arch>\n";
}

bool hex_prefix(std::string_view s) {
    return s.size() >= 8 && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

}  // namespace

ReleaseService::ReleaseService(const Project& project, store::Store* store,
                               os::ProcessRunner& runner)
    : m_project(project), m_store(store), m_runner(runner) {}

std::string ReleaseService::repo_relative(const std::string& absolute) const {
    const std::string prefix = m_project.root + "/";
    return absolute.rfind(prefix, 0) == 0 ? absolute.substr(prefix.size()) : absolute;
}

Result<release::ReleaseDocument> ReleaseService::build_document(
    const std::string& name, const std::vector<std::string>& packages, const std::string& checklist,
    std::vector<std::pair<std::string, std::string>> params) const {
    release::ReleaseDocument doc;
    doc.name = name;
    // Within one command a file is hashed once, however many releases name it (release list).
    auto hash_file = [this](const std::string& path) -> Result<release::HashedFile> {
        if (auto it = m_file_cache.find(path); it != m_file_cache.end()) {
            return it->second;
        }
        auto sha = state::sha256_file(path);
        if (!sha) {
            return fail(sha.error());
        }
        return m_file_cache[path] = release::HashedFile{repo_relative(path), *sha};
    };
    auto list = hash_file(checklist);
    if (!list) {
        return fail(list.error().code(), "the checklist: " + list.error().message());
    }
    doc.checklist = std::move(*list);
    std::sort(params.begin(), params.end());
    doc.params = std::move(params);
    const std::string requirements = m_project.root + "/requirements.toml";
    if (os::make_local_file_system()->exists(requirements)) {
        auto r = hash_file(requirements);
        if (!r) {
            return fail(r.error());
        }
        doc.requirements = std::move(*r);
    }
    std::set<std::string> state_files;
    for (const auto& [role, files] : m_project.config.roles) {
        state_files.insert(files.begin(), files.end());
    }
    for (const auto& f : state_files) {
        auto h = hash_file(m_project.root + "/" + f);
        if (!h) {
            return fail(h.error().code(), "state file of [roles]: " + h.error().message());
        }
        doc.state.push_back(std::move(*h));
    }
    // Packages: every .deb not read yet by this service read (each file hashed) at once, on
    // every core.
    std::vector<std::string> debs;
    for (const auto& p : packages) {
        if (!m_package_cache.count(p) && is_deb(p) &&
            std::find(debs.begin(), debs.end(), p) == debs.end()) {
            debs.push_back(p);
        }
    }
    auto manifests = package::read_debs(debs);
    for (size_t i = 0; i < debs.size(); ++i) {
        auto& m = manifests[i];
        if (!m) {
            return fail(m.error());
        }
        auto sha = state::sha256_file(debs[i]);
        if (!sha) {
            return fail(sha.error().code(), "package: " + sha.error().message());
        }
        m_package_cache[debs[i]] = release::PackageInput{
            repo_relative(debs[i]), *sha, package::manifest_sha256(*m), m->package, m->version,
            m->architecture};
    }
    for (const auto& p : packages) {
        if (auto it = m_package_cache.find(p); it != m_package_cache.end()) {
            doc.packages.push_back(it->second);
            continue;
        }
        auto sha = hash_file(p);  // a plain artifact
        if (!sha) {
            return fail(sha.error().code(), "package: " + sha.error().message());
        }
        release::PackageInput in;
        in.path = sha->path;
        in.sha256 = sha->sha256;
        doc.packages.push_back(std::move(in));
    }
    return doc;
}

Result<ReleaseCreated> ReleaseService::create(const ReleaseCreateRequest& request) {
    if (!release::valid_release_name(request.name)) {
        return fail(Errc::invalid_argument,
                    "release name '" + request.name +
                        "': use letters, digits, '.', '-', '_', '+' or '~', starting with a "
                        "letter or digit (e.g. booking-1.4.3)");
    }
    std::vector<std::string> packages;
    packages.reserve(request.packages.size());
    for (const auto& p : request.packages) {
        packages.push_back(os::path_absolute(p, request.cwd));
    }
    auto doc = build_document(request.name, packages,
                              os::path_absolute(request.checklist, request.cwd), request.params);
    if (!doc) {
        return fail(doc.error());
    }
    ReleaseCreated out;
    out.record.document = std::move(*doc);
    out.record.id = state::sha256_hex(release::canonical_json(out.record.document));
    out.record.created_at = now_ms();
    out.record.created_by = request.user.empty() ? current_user() : request.user;
    out.file = "releases/" + request.name + "/" + out.record.id + ".json";
    auto fs = os::make_local_file_system();
    const std::string path = m_project.root + "/" + out.file;
    auto all = list();
    if (!all) {
        return fail(all.error());
    }
    for (const auto& r : *all) {
        if (r.document.name != request.name) {
            continue;
        }
        if (r.id == out.record.id) {
            out.existed = true;
            out.record = r;
            return out;
        }
        if (!out.previous) {
            out.previous = r;
            out.changes = release::describe_changes(r.document, out.record.document);
        }
    }
    const std::string text = release::record_to_json(out.record);
    if (m_store) {
        store::AuditEntry e;
        e.at = out.record.created_at;
        e.kind = "release";
        e.actor = out.record.created_by;
        e.subject = out.record.id;
        e.detail = text;
        auto appended = m_store->append_audit(e);
        if (!appended) {
            return fail(appended.error().code(),
                        "recording the release in the audit ledger: " + appended.error().message());
        }
        out.audit = std::move(*appended);
    }
    if (auto st = os::write_whole_file_atomic(path, text); !st) {
        return fail(st.error());
    }
    m_records.reset();
    return out;
}

Result<std::vector<release::ReleaseRecord>> ReleaseService::list() const {
    if (m_records) {
        return *m_records;
    }
    std::vector<release::ReleaseRecord> out;
    auto fs = os::make_local_file_system();
    const std::string dir = m_project.root + "/releases";
    if (!fs->is_directory(dir)) {
        return out;
    }
    auto names = fs->list_directory(dir);
    if (!names) {
        return fail(names.error());
    }
    for (const auto& name : *names) {
        if (!fs->is_directory(dir + "/" + name)) {
            continue;
        }
        auto files = fs->list_directory(dir + "/" + name);
        if (!files) {
            return fail(files.error());
        }
        for (const auto& f : *files) {
            if (!f.ends_with(".json")) {
                continue;
            }
            const std::string rel = "releases/" + name + "/" + f;
            auto text = fs->read_file(m_project.root + "/" + rel);
            if (!text) {
                return fail(text.error());
            }
            auto rec = release::parse_record_json(*text, rel);
            if (!rec) {
                return fail(rec.error());
            }
            out.push_back(std::move(*rec));
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::pair(a.created_at, a.id) > std::pair(b.created_at, b.id);
    });
    m_records = out;
    return out;
}

Result<release::ReleaseRecord> ReleaseService::resolve(std::string_view name_or_id) const {
    auto all = list();
    if (!all) {
        return fail(all.error());
    }
    for (const auto& r : *all) {  // newest first: the newest id of a name
        if (r.document.name == name_or_id) {
            return r;
        }
    }
    if (hex_prefix(name_or_id)) {
        std::vector<const release::ReleaseRecord*> hits;
        for (const auto& r : *all) {
            if (r.id.rfind(name_or_id, 0) == 0) {
                hits.push_back(&r);
            }
        }
        if (hits.size() == 1) {
            return *hits[0];
        }
        if (hits.size() > 1) {
            return fail(Errc::invalid_argument, "release id prefix '" + std::string(name_or_id) +
                                                    "' matches " + std::to_string(hits.size()) +
                                                    " releases: give more digits");
        }
    }
    std::string known;
    std::set<std::string> names;
    for (const auto& r : *all) {
        if (names.insert(r.document.name).second) {
            known += (known.empty() ? "" : ", ") + r.document.name;
        }
    }
    return fail(Errc::not_found,
                "no release '" + std::string(name_or_id) + "' in " + m_project.root +
                    "/releases (" +
                    (known.empty() ? "none yet: create one with 'shipshape release create'"
                                   : "releases: " + known) +
                    ")");
}

Result<release::ReleaseDocument> ReleaseService::rehash(const release::ReleaseDocument& doc) const {
    auto absolute = [this](const std::string& p) {
        return p.rfind('/', 0) == 0 ? p : m_project.root + "/" + p;
    };
    std::vector<std::string> packages;
    packages.reserve(doc.packages.size());
    for (const auto& p : doc.packages) {
        packages.push_back(absolute(p.path));
    }
    return build_document(doc.name, packages, absolute(doc.checklist.path), doc.params);
}

}  // namespace shipshape::app
