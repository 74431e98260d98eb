// The nlohmann adapter for PackageDiff: `package diff --json` (docs/manual.md, "Reviewing an
// upgrade"). Keys come out in a fixed order (ordered_json).
#include <nlohmann/json.hpp>

#include "package/diff.hpp"
#include "package/manifest_json.hpp"

namespace shipshape::package {

namespace {

using ojson = nlohmann::ordered_json;

ojson side_json(const SideInfo& s) {
    ojson j;
    j["package"] = s.package;
    j["version"] = s.version;
    j["architecture"] = s.architecture;
    j["entries"] = s.entries;
    j["payload_size"] = s.payload_size;
    j["installed_size_kib"] = s.installed_size_kib ? ojson(*s.installed_size_kib) : ojson(nullptr);
    j["unsafe"] = s.unsafe;
    return j;
}

ojson nullable(const std::string& s) {
    return s.empty() ? ojson(nullptr) : ojson(s);
}

}  // namespace

std::string diff_to_json(const PackageDiff& d) {
    ojson j;
    j["a"] = side_json(d.a);
    j["b"] = side_json(d.b);

    ojson summary;
    summary["different"] = !empty(d);
    summary["depends"] = d.relations.size();
    summary["requirements"] = d.requirements.changes.size();
    summary["scripts"] = d.scripts.size();
    summary["conffiles"] = d.conffiles.size();
    summary["files_added"] = d.files.added.size();
    summary["files_removed"] = d.files.removed.size();
    summary["files_changed"] = d.files.changed.size();
    summary["same_size_content_changes"] = same_size_content_changes(d.files);
    summary["control"] = d.control.size();
    j["summary"] = summary;

    ojson depends = ojson::array();
    for (const auto& r : d.relations) {
        ojson x;
        x["field"] = r.field;
        x["name"] = r.name;
        x["change"] = std::string(change_name(r.change));
        x["before"] = nullable(r.before);
        x["after"] = nullable(r.after);
        depends.push_back(std::move(x));
    }
    j["depends"] = std::move(depends);

    ojson req;
    ojson changes = ojson::array();
    for (const auto& c : d.requirements.changes) {
        ojson x;
        x["kind"] = c.kind;
        x["subject"] = c.subject;
        x["change"] = std::string(change_name(c.change));
        x["before"] = nullable(c.before);
        x["after"] = nullable(c.after);
        changes.push_back(std::move(x));
    }
    req["changes"] = std::move(changes);
    req["text_changed"] = d.requirements.text_changed;
    req["diff"] = d.requirements.text_diff;
    req["errors"] = d.requirements.errors;
    req["checked_against"] =
        d.requirements.checked_against ? ojson(*d.requirements.checked_against) : ojson(nullptr);
    ojson checks = ojson::array();
    for (const auto& r : d.requirements.checks) {
        ojson x;
        x["host"] = r.host;
        x["kind"] = r.kind;
        x["subject"] = r.subject;
        x["needed"] = r.needed;
        x["found"] = r.found;
        x["verdict"] = std::string(require::verdict_name(r.verdict));
        x["reason"] = r.reason;
        checks.push_back(std::move(x));
    }
    req["checks"] = std::move(checks);
    j["requirements"] = std::move(req);

    ojson scripts = ojson::array();
    for (const auto& s : d.scripts) {
        ojson x;
        x["name"] = s.name;
        x["change"] = std::string(change_name(s.change));
        x["before_sha256"] = nullable(s.before_sha256);
        x["after_sha256"] = nullable(s.after_sha256);
        x["before_size"] = s.before_size;
        x["after_size"] = s.after_size;
        x["diff"] = s.diff;
        scripts.push_back(std::move(x));
    }
    j["scripts"] = std::move(scripts);

    ojson conffiles = ojson::array();
    for (const auto& c : d.conffiles) {
        ojson x;
        x["path"] = c.path;
        x["change"] = std::string(change_name(c.change));
        x["before_sha256"] = nullable(c.before_sha256);
        x["after_sha256"] = nullable(c.after_sha256);
        x["before_size"] = c.before_size;
        x["after_size"] = c.after_size;
        x["diff"] = c.diff;
        x["modified_locally"] = c.modified_locally_a;
        x["dpkg_prompts"] = c.modified_locally_a && c.change != Change::added;
        conffiles.push_back(std::move(x));
    }
    j["conffiles"] = std::move(conffiles);

    ojson files;
    files["added"] = ojson::array();
    for (const auto& e : d.files.added) {
        files["added"].push_back(entry_to_json(e));
    }
    files["removed"] = ojson::array();
    for (const auto& e : d.files.removed) {
        files["removed"].push_back(entry_to_json(e));
    }
    files["changed"] = ojson::array();
    for (const auto& c : d.files.changed) {
        ojson x;
        x["path"] = c.after.path;
        ojson what = ojson::array();
        for (auto name : aspect_names(c.what)) {
            what.push_back(std::string(name));
        }
        x["changes"] = std::move(what);
        x["before"] = entry_to_json(c.before);
        x["after"] = entry_to_json(c.after);
        files["changed"].push_back(std::move(x));
    }
    j["files"] = std::move(files);

    ojson control = ojson::array();
    for (const auto& f : d.control) {
        ojson x;
        x["field"] = f.name;
        x["change"] = std::string(change_name(f.change));
        x["before"] = nullable(f.before);
        x["after"] = nullable(f.after);
        control.push_back(std::move(x));
    }
    j["control"] = std::move(control);

    ojson size;
    size["payload_before"] = d.a.payload_size;
    size["payload_after"] = d.b.payload_size;
    size["payload_delta"] =
        static_cast<int64_t>(d.b.payload_size) - static_cast<int64_t>(d.a.payload_size);
    size["installed_size_kib_before"] =
        d.a.installed_size_kib ? ojson(*d.a.installed_size_kib) : ojson(nullptr);
    size["installed_size_kib_after"] =
        d.b.installed_size_kib ? ojson(*d.b.installed_size_kib) : ojson(nullptr);
    j["size"] = std::move(size);
    return j.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

}  // namespace shipshape::package
