// The JSON forms of releases and sign-offs (nlohmann/json): the canonical document whose sha256
// is the release id, the record kept in releases/NAME/ID.json and the sign-off files.
#include <nlohmann/json.hpp>

#include "release/release.hpp"

namespace shipshape::release {

namespace {

using nlohmann::json;

// Sorted keys (nlohmann's object is a std::map), no whitespace, invalid UTF-8 replaced: the
// same document is the same bytes everywhere.
std::string compact(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json file_json(const HashedFile& f) {
    return json{{"path", f.path}, {"sha256", f.sha256}};
}

json document_json(const ReleaseDocument& doc) {
    json packages = json::array();
    for (const auto& p : doc.packages) {
        packages.push_back({{"path", p.path},
                            {"sha256", p.sha256},
                            {"manifest_sha256", p.manifest_sha256},
                            {"package", p.package},
                            {"version", p.version},
                            {"architecture", p.architecture}});
    }
    json params = json::object();
    for (const auto& [k, v] : doc.params) {
        params[k] = v;
    }
    json state = json::array();
    for (const auto& f : doc.state) {
        state.push_back(file_json(f));
    }
    return json{{"format", "shipshape.release/1"},
                {"name", doc.name},
                {"packages", packages},
                {"checklist", file_json(doc.checklist)},
                {"params", params},
                {"requirements", doc.requirements ? file_json(*doc.requirements) : json(nullptr)},
                {"state", state}};
}

// Reads fields with a path in every message ("releases/x/ab.json: checklist.sha256: expected a
// string").
class Reader {
  public:
    explicit Reader(std::string_view where) : m_where(where) {}

    std::string str(const json& j, const char* key, const std::string& at) {
        auto it = j.find(key);
        if (it == j.end() || !it->is_string()) {
            problem(at + key + ": expected a string");
            return {};
        }
        return it->get<std::string>();
    }
    int64_t integer(const json& j, const char* key, const std::string& at) {
        auto it = j.find(key);
        if (it == j.end() || !it->is_number_integer()) {
            problem(at + key + ": expected an integer");
            return 0;
        }
        return it->get<int64_t>();
    }
    const json* sub(const json& j, const char* key, json::value_t type, const std::string& at) {
        auto it = j.find(key);
        if (it == j.end() || it->type() != type) {
            problem(at + key + ": expected " +
                    (type == json::value_t::array ? "an array" : "an object"));
            return nullptr;
        }
        return &*it;
    }
    HashedFile file(const json& j, const std::string& at) {
        if (!j.is_object()) {
            problem(at + ": expected an object");
            return {};
        }
        return HashedFile{str(j, "path", at + "."), str(j, "sha256", at + ".")};
    }
    void problem(const std::string& what) {
        if (m_first.empty()) {
            m_first = what;
        }
    }
    Status result() const {
        if (m_first.empty()) {
            return {};
        }
        return fail(Errc::invalid_definition, std::string(m_where) + ": " + m_first);
    }

  private:
    std::string_view m_where;
    std::string m_first;
};

ReleaseDocument read_document(const json& j, Reader& r) {
    ReleaseDocument doc;
    if (r.str(j, "format", "document.") != "shipshape.release/1") {
        r.problem("document.format: expected \"shipshape.release/1\"");
    }
    doc.name = r.str(j, "name", "document.");
    if (const json* packages = r.sub(j, "packages", json::value_t::array, "document.")) {
        for (const auto& p : *packages) {
            if (!p.is_object()) {
                r.problem("document.packages: expected objects");
                continue;
            }
            const std::string at = "document.packages[].";
            doc.packages.push_back(PackageInput{
                r.str(p, "path", at), r.str(p, "sha256", at), r.str(p, "manifest_sha256", at),
                r.str(p, "package", at), r.str(p, "version", at), r.str(p, "architecture", at)});
        }
    }
    if (auto it = j.find("checklist"); it != j.end()) {
        doc.checklist = r.file(*it, "document.checklist");
    } else {
        r.problem("document.checklist: missing");
    }
    if (const json* params = r.sub(j, "params", json::value_t::object, "document.")) {
        for (const auto& [k, v] : params->items()) {
            if (!v.is_string()) {
                r.problem("document.params." + k + ": expected a string");
                continue;
            }
            doc.params.emplace_back(k, v.get<std::string>());
        }
    }
    if (auto it = j.find("requirements"); it != j.end() && !it->is_null()) {
        doc.requirements = r.file(*it, "document.requirements");
    }
    if (const json* state = r.sub(j, "state", json::value_t::array, "document.")) {
        for (const auto& f : *state) {
            doc.state.push_back(r.file(f, "document.state[]"));
        }
    }
    return doc;
}

Result<json> parse_object(std::string_view text, std::string_view where) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return fail(Errc::invalid_definition,
                    std::string(where) + ": not a JSON object (is the file complete?)");
    }
    return j;
}

}  // namespace

std::string canonical_json(const ReleaseDocument& doc) {
    return compact(document_json(doc));
}

std::string record_to_json(const ReleaseRecord& record) {
    json j{
        {"format", "shipshape.release-record/1"},    {"id", record.id},
        {"created_at", iso_time(record.created_at)}, {"created_at_ms", record.created_at},
        {"created_by", record.created_by},           {"document", document_json(record.document)}};
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<ReleaseRecord> parse_record_json(std::string_view text, std::string_view where) {
    auto j = parse_object(text, where);
    if (!j) {
        return fail(j.error());
    }
    Reader r(where);
    ReleaseRecord rec;
    if (r.str(*j, "format", "") != "shipshape.release-record/1") {
        r.problem("format: expected \"shipshape.release-record/1\"");
    }
    rec.id = r.str(*j, "id", "");
    rec.created_at = r.integer(*j, "created_at_ms", "");
    rec.created_by = r.str(*j, "created_by", "");
    if (const json* doc = r.sub(*j, "document", json::value_t::object, "")) {
        rec.document = read_document(*doc, r);
    }
    if (auto st = r.result(); !st) {
        return fail(st.error());
    }
    return rec;
}

std::string signoff_to_json(const SignOff& s) {
    json j{{"format", "shipshape.signoff/1"},
           {"release", s.release_id},
           {"name", s.release_name},
           {"stage", s.stage},
           {"role", s.role},
           {"at", iso_time(s.at)},
           {"at_ms", s.at},
           {"note", s.note},
           {"signature", s.signature}};
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<SignOff> parse_signoff_json(std::string_view text, std::string_view where) {
    auto j = parse_object(text, where);
    if (!j) {
        return fail(j.error());
    }
    Reader r(where);
    SignOff s;
    if (r.str(*j, "format", "") != "shipshape.signoff/1") {
        r.problem("format: expected \"shipshape.signoff/1\"");
    }
    s.release_id = r.str(*j, "release", "");
    s.release_name = r.str(*j, "name", "");
    s.stage = r.str(*j, "stage", "");
    s.role = r.str(*j, "role", "");
    s.at = r.integer(*j, "at_ms", "");
    s.note = r.str(*j, "note", "");
    s.signature = r.str(*j, "signature", "");
    if (auto st = r.result(); !st) {
        return fail(st.error());
    }
    return s;
}

std::string signed_checkoff_to_json(const SignedCheckOff& c) {
    json j{{"format", "shipshape.checkoff/1"},
           {"run", c.run_id},
           {"step", c.step_id},
           {"role", c.role},
           {"checklist_sha256", c.checklist_sha256},
           {"at", iso_time(c.at)},
           {"at_ms", c.at},
           {"note", c.note},
           {"signature", c.signature}};
    return compact(j);
}

}  // namespace shipshape::release
