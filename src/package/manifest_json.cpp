// manifest_to_json / parse_manifest_json: the only file that knows the manifest's JSON form
// (docs/specs/manifest.md). Output keys are in a fixed, readable order (ordered_json); input is
// checked strictly, naming the key path of the first problem.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "core/text.hpp"
#include "package/manifest_json.hpp"

namespace shipshape::package {

namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

bool is_sha256(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// A problem at a key path; thrown inside the parser only, caught at its top.
struct Bad {
    std::string where;
    std::string what;
};

[[noreturn]] void bad(const std::string& where, const std::string& what) {
    throw Bad{where, what};
}

const json& member(const json& obj, const std::string& where, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) {
        bad(where, std::string("missing key \"") + key + "\"");
    }
    return *it;
}

void only_keys(const json& obj, const std::string& where, std::initializer_list<const char*> keys) {
    if (!obj.is_object()) {
        bad(where, "expected an object");
    }
    for (const auto& item : obj.items()) {
        const std::string& k = item.key();
        if (std::none_of(keys.begin(), keys.end(), [&](const char* key) { return k == key; })) {
            std::string known;
            for (const char* key : keys) {
                known += (known.empty() ? "" : ", ") + std::string(key);
            }
            bad(where.empty() ? k : where + "." + k, "unknown key (known: " + known + ")");
        }
    }
}

std::string text_at(const json& v, const std::string& where) {
    if (!v.is_string()) {
        bad(where, "expected a string");
    }
    return v.get<std::string>();
}

uint64_t number_at(const json& v, const std::string& where) {
    if (!v.is_number_unsigned()) {
        bad(where, "expected a non-negative integer");
    }
    return v.get<uint64_t>();
}

// An optional boolean key, false when absent.
bool flag_at(const json& obj, const std::string& where, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) {
        return false;
    }
    if (!it->is_boolean()) {
        bad(where + "." + key, "expected true or false");
    }
    return it->get<bool>();
}

std::string hash_at(const json& v, const std::string& where) {
    std::string h = text_at(v, where);
    if (!is_sha256(h)) {
        bad(where, "expected 64 lower-case hex digits (sha256)");
    }
    return h;
}

uint32_t mode_at(const json& v, const std::string& where) {
    const std::string m = v.is_string() ? v.get<std::string>() : std::string();
    if (m.size() != 4 ||
        !std::all_of(m.begin(), m.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        bad(where, "expected an octal string such as \"0644\"");
    }
    return static_cast<uint32_t>(std::stoul(m, nullptr, 8));
}

std::string path_at(const json& v, const std::string& where) {
    std::string p = text_at(v, where);
    std::string why;
    auto normal = p.starts_with("/") ? normalise_member(p.substr(1), why) : std::nullopt;
    if (!normal || *normal != p) {
        bad(where, "expected an absolute, normalised path (\"/usr/bin/x\"), got \"" +
                       escape_control(p) + "\"");
    }
    return p;
}

Entry parse_entry(const json& j, const std::string& where) {
    only_keys(
        j, where,
        {"path", "type", "size", "sha256", "mode", "owner", "group", "target", "modified_locally"});
    Entry e;
    e.modified_locally = flag_at(j, where, "modified_locally");
    e.path = path_at(member(j, where, "path"), where + ".path");
    auto type = parse_entry_type(text_at(member(j, where, "type"), where + ".type"));
    if (!type) {
        bad(where + ".type", "expected file, directory, symlink, hardlink, char, block or fifo");
    }
    e.type = *type;
    e.mode = mode_at(member(j, where, "mode"), where + ".mode");
    e.owner = text_at(member(j, where, "owner"), where + ".owner");
    e.group = text_at(member(j, where, "group"), where + ".group");
    if (e.type == EntryType::file) {
        e.size = number_at(member(j, where, "size"), where + ".size");
        e.sha256 = hash_at(member(j, where, "sha256"), where + ".sha256");
    } else if (j.contains("sha256")) {
        bad(where + ".sha256", "only file entries have a sha256");
    } else if (j.contains("size") && number_at(j["size"], where + ".size") != 0) {
        bad(where + ".size", "only file entries have a size");
    }
    if (e.type == EntryType::symlink || e.type == EntryType::hardlink) {
        e.target = text_at(member(j, where, "target"), where + ".target");
    } else if (j.contains("target")) {
        bad(where + ".target", "only symlink and hardlink entries have a target");
    }
    return e;
}

Conffile parse_conffile(const json& j, const std::string& where) {
    only_keys(j, where, {"path", "sha256", "size", "content", "modified_locally"});
    Conffile c;
    c.modified_locally = flag_at(j, where, "modified_locally");
    c.path = path_at(member(j, where, "path"), where + ".path");
    const json& h = member(j, where, "sha256");
    if (!(h.is_string() && h.get<std::string>().empty())) {
        c.sha256 = hash_at(h, where + ".sha256");
    }
    c.size = number_at(member(j, where, "size"), where + ".size");
    if (j.contains("content") && !j["content"].is_null()) {
        c.content = text_at(j["content"], where + ".content");
    }
    return c;
}

template <typename T>
void check_sorted(const std::vector<T>& items, const std::string& where) {
    for (size_t i = 1; i < items.size(); ++i) {
        if (!(items[i - 1].path < items[i].path)) {
            bad(where + "[" + std::to_string(i) + "].path",
                items[i - 1].path == items[i].path
                    ? "\"" + items[i].path + "\" is listed twice"
                    : "entries must be sorted by path (\"" + items[i].path + "\" after \"" +
                          items[i - 1].path + "\")");
        }
    }
}

std::vector<std::string> strings_at(const json& v, const std::string& where) {
    if (!v.is_array()) {
        bad(where, "expected an array of strings");
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < v.size(); ++i) {
        out.push_back(text_at(v[i], where + "[" + std::to_string(i) + "]"));
    }
    return out;
}

Manifest parse(const json& j) {
    only_keys(j, "",
              {"format", "package", "version", "architecture", "control", "depends", "relations",
               "scripts", "script_sha256", "conffiles", "files", "requirements", "unsafe"});
    const std::string format = text_at(member(j, "", "format"), "format");
    if (format != k_manifest_format) {
        bad("format", "expected \"" + std::string(k_manifest_format) + "\", got \"" +
                          escape_control(format) + "\"");
    }
    Manifest m;
    m.package = text_at(member(j, "", "package"), "package");
    m.version = text_at(member(j, "", "version"), "version");
    m.architecture = text_at(member(j, "", "architecture"), "architecture");
    const json& control = member(j, "", "control");
    if (!control.is_array()) {
        bad("control", "expected an array of [name, value] pairs");
    }
    for (size_t i = 0; i < control.size(); ++i) {
        const std::string where = "control[" + std::to_string(i) + "]";
        if (!control[i].is_array() || control[i].size() != 2) {
            bad(where, "expected a [name, value] pair");
        }
        m.control.push_back(
            {text_at(control[i][0], where + "[0]"), text_at(control[i][1], where + "[1]")});
    }
    auto deps = strings_at(member(j, "", "depends"), "depends");
    if (!deps.empty()) {
        m.relations["Depends"] = std::move(deps);
    }
    if (j.contains("relations")) {
        const json& rel = j["relations"];
        if (!rel.is_object()) {
            bad("relations", "expected an object of field -> [relations]");
        }
        for (const auto& [field, list] : rel.items()) {
            if (field == "Depends" ||
                std::find(std::begin(k_relation_fields), std::end(k_relation_fields), field) ==
                    std::end(k_relation_fields)) {
                bad("relations." + field, "not a relation field (Depends is in \"depends\")");
            }
            m.relations[field] = strings_at(list, "relations." + field);
        }
    }
    const json& scripts = member(j, "", "scripts");
    if (!scripts.is_object()) {
        bad("scripts", "expected an object of name -> text");
    }
    const json& hashes = member(j, "", "script_sha256");
    for (const auto& [name, text] : scripts.items()) {
        Script s;
        s.text = text_at(text, "scripts." + name);
        if (!hashes.is_object() || !hashes.contains(name)) {
            bad("script_sha256." + name, "missing: every script has its hash");
        }
        s.sha256 = hash_at(hashes[name], "script_sha256." + name);
        m.scripts[name] = std::move(s);
    }
    if (hashes.size() != scripts.size()) {
        bad("script_sha256", "has a hash for a script that \"scripts\" does not hold");
    }
    const json& conffiles = member(j, "", "conffiles");
    if (!conffiles.is_array()) {
        bad("conffiles", "expected an array");
    }
    for (size_t i = 0; i < conffiles.size(); ++i) {
        m.conffiles.push_back(parse_conffile(conffiles[i], "conffiles[" + std::to_string(i) + "]"));
    }
    check_sorted(m.conffiles, "conffiles");
    const json& files = member(j, "", "files");
    if (!files.is_array()) {
        bad("files", "expected an array");
    }
    m.files.reserve(files.size());
    for (size_t i = 0; i < files.size(); ++i) {
        m.files.push_back(parse_entry(files[i], "files[" + std::to_string(i) + "]"));
    }
    check_sorted(m.files, "files");
    if (j.contains("requirements") && !j["requirements"].is_null()) {
        const json& r = j["requirements"];
        only_keys(r, "requirements", {"path", "text"});
        m.requirements =
            EmbeddedRequirements{text_at(member(r, "requirements", "path"), "requirements.path"),
                                 text_at(member(r, "requirements", "text"), "requirements.text")};
    }
    if (j.contains("unsafe")) {
        const json& u = j["unsafe"];
        if (!u.is_array()) {
            bad("unsafe", "expected an array");
        }
        for (size_t i = 0; i < u.size(); ++i) {
            const std::string where = "unsafe[" + std::to_string(i) + "]";
            only_keys(u[i], where, {"member", "reason"});
            m.unsafe.push_back({text_at(member(u[i], where, "member"), where + ".member"),
                                text_at(member(u[i], where, "reason"), where + ".reason")});
        }
    }
    return m;
}

}  // namespace

ojson entry_to_json(const Entry& e) {
    ojson o{{"path", e.path}, {"type", entry_type_name(e.type)}};
    if (e.type == EntryType::file) {
        o["size"] = e.size;
        o["sha256"] = e.sha256;
    }
    o["mode"] = mode_text(e.mode);
    o["owner"] = e.owner;
    o["group"] = e.group;
    if (e.type == EntryType::symlink || e.type == EntryType::hardlink) {
        o["target"] = e.target;
    }
    if (e.modified_locally) {
        o["modified_locally"] = true;
    }
    return o;
}

std::string manifest_to_json(const Manifest& m) {
    ojson j;
    j["format"] = k_manifest_format;
    j["package"] = m.package;
    j["version"] = m.version;
    j["architecture"] = m.architecture;
    ojson control = ojson::array();
    for (const auto& f : m.control) {
        control.push_back(ojson::array({f.name, f.value}));
    }
    j["control"] = std::move(control);
    auto deps = m.relations.find("Depends");
    j["depends"] = deps == m.relations.end() ? std::vector<std::string>{} : deps->second;
    ojson relations = ojson::object();
    for (std::string_view field : k_relation_fields) {
        auto it = m.relations.find(std::string(field));
        if (field != "Depends" && it != m.relations.end()) {
            relations[std::string(field)] = it->second;
        }
    }
    j["relations"] = std::move(relations);
    ojson scripts = ojson::object();
    ojson hashes = ojson::object();
    for (const auto& [name, s] : m.scripts) {
        scripts[name] = s.text;
        hashes[name] = s.sha256;
    }
    j["scripts"] = std::move(scripts);
    j["script_sha256"] = std::move(hashes);
    ojson conffiles = ojson::array();
    for (const auto& c : m.conffiles) {
        ojson o{{"path", c.path}, {"sha256", c.sha256}, {"size", c.size}};
        if (c.content) {
            o["content"] = *c.content;
        }
        if (c.modified_locally) {
            o["modified_locally"] = true;
        }
        conffiles.push_back(std::move(o));
    }
    j["conffiles"] = std::move(conffiles);
    ojson files = ojson::array();
    for (const auto& e : m.files) {
        files.push_back(entry_to_json(e));
    }
    j["files"] = std::move(files);
    if (m.requirements) {
        j["requirements"] = {{"path", m.requirements->path}, {"text", m.requirements->text}};
    } else {
        j["requirements"] = nullptr;
    }
    ojson unsafe = ojson::array();
    for (const auto& u : m.unsafe) {
        unsafe.push_back({{"member", u.member}, {"reason", u.reason}});
    }
    j["unsafe"] = std::move(unsafe);
    // Text the producers could not make valid UTF-8 is replaced, never a reason to throw.
    return j.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

Result<Manifest> parse_manifest_json(std::string_view text, std::string_view path) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        return fail(Errc::invalid_definition,
                    std::string(path) + ": not a JSON document: " + e.what());
    }
    if (!j.is_object()) {
        return fail(Errc::invalid_definition, std::string(path) + ": expected a manifest object (" +
                                                  std::string(k_manifest_format) + ")");
    }
    try {
        return parse(j);
    } catch (const Bad& b) {
        return fail(Errc::invalid_definition,
                    std::string(path) + ": " + (b.where.empty() ? "" : b.where + ": ") + b.what);
    } catch (const json::exception& e) {
        return fail(Errc::invalid_definition, std::string(path) + ": " + e.what());
    }
}

}  // namespace shipshape::package
