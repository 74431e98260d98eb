// The toml++ adapter for fault profiles (faults/*.toml). Each [[fault]] table is turned into
// the text of the matching command-line flag and parsed by parse_fault_flag, so a profile and
// the flags can never disagree about what a value means; errors keep the table's position.
#include "core/toml_reader.hpp"
#include "faults/fault.hpp"
#include "faults/fault_kinds.hpp"
#include "os/file_system.hpp"

namespace shipshape::faults {

namespace {

// A scalar as flag text: strings as they are, integers in decimal.
std::optional<std::string> scalar(TomlReader& r, const toml::node& n, std::string_view where) {
    if (n.is_string()) {
        return *n.value<std::string>();
    }
    if (n.is_integer()) {
        return std::to_string(*n.value<int64_t>());
    }
    r.wrong_type(where, n, "a string or an integer");
    return std::nullopt;
}

std::optional<std::string> time_text(TomlReader& r, const toml::node& n, std::string_view where) {
    if (n.is_integer()) {
        auto i = n.value<int64_t>();
        if (*i < 0) {
            r.error(n, std::string(where) + " must not be negative");
            return std::nullopt;
        }
        return std::to_string(*i);
    }
    if (n.is_string()) {
        return *n.value<std::string>();
    }
    r.wrong_type(where, n, "a duration like \"2s\" or a number of seconds");
    return std::nullopt;
}

// "loss, block-port, …" from the kind table; `last` joins the final two.
std::string kind_names(std::string_view last) {
    std::string list;
    auto kinds = fault_kinds();
    for (size_t i = 0; i < kinds.size(); ++i) {
        list += (i == 0                  ? ""
                 : i + 1 == kinds.size() ? std::string(last)
                                         : ", ") +
                std::string(kinds[i].name);
    }
    return list;
}

}  // namespace

Result<Profile> parse_profile(std::string_view text, const std::string& path) {
    Diagnostics diags;
    TomlReader r(path, diags);
    auto doc = r.parse(text);
    if (!doc) {
        return fail(diags.to_error());
    }
    Profile profile;
    r.check_keys(*doc, "a fault profile", {"name", "description", "fault"});
    if (auto n = doc->get("name")) {
        profile.name = r.string(*n, "'name'").value_or("");
    }
    if (auto n = doc->get("description")) {
        profile.description = r.string(*n, "'description'").value_or("");
    }
    const toml::array* arr = nullptr;
    if (auto n = doc->get("fault")) {
        arr = r.tables(*n, "fault");
    }
    if (!arr || arr->empty()) {
        if (diags.empty()) {
            r.error(SourcePos{1, 1}, "a fault profile needs at least one [[fault]] table");
        }
        return fail(diags.to_error());
    }
    for (auto&& item : *arr) {
        const auto& t = *item.as_table();
        SourcePos pos = toml_pos(t.source());
        auto kind_node = t.get("kind");
        if (!kind_node) {
            r.error(pos, "[[fault]] needs 'kind' (" + kind_names(", ") + ")");
            continue;
        }
        auto kind_name = r.string(*kind_node, "fault 'kind'");
        if (!kind_name) {
            continue;
        }
        auto kind = parse_fault_kind(*kind_name);
        if (!kind) {
            r.error(*kind_node,
                    "unknown fault kind '" + *kind_name + "': expected " + kind_names(" or "));
            continue;
        }
        const KindSpec& spec = kind_spec(*kind);
        std::vector<std::string_view> allowed = {"kind", "start", "stop"};
        for (const auto& k : spec.profile) {
            if (!k.key.empty()) {
                allowed.push_back(k.key);
            }
        }
        bool ok = true;
        for (auto&& [key, node] : t) {
            bool known = false;
            for (auto a : allowed) {
                known = known || a == key.str();
            }
            if (!known) {
                std::string list;
                for (auto a : allowed) {
                    list += (list.empty() ? "" : ", ") + std::string(a);
                }
                r.error(node, "unknown key '" + std::string(key.str()) + "' in a " + *kind_name +
                                  " fault: expected " + list);
                ok = false;
            }
        }
        auto get = [&](std::string_view key, bool required) -> std::optional<std::string> {
            auto n = t.get(key);
            if (!n) {
                if (required) {
                    r.error(pos, "a " + *kind_name + " fault needs '" + std::string(key) + "'");
                    ok = false;
                }
                return std::nullopt;
            }
            if (key == "ops" && n->is_array()) {
                auto list = r.strings(*n, "fault 'ops'");
                if (!list) {
                    ok = false;
                    return std::nullopt;
                }
                std::string joined;
                for (const auto& s : *list) {
                    joined += (joined.empty() ? "" : ",") + s;
                }
                return joined;
            }
            auto v = scalar(r, *n, "fault '" + std::string(key) + "'");
            ok = ok && v.has_value();
            return v;
        };
        // The keys joined into the flag's text, each after its separator ("20" + "/" + "udp").
        std::string value;
        for (const auto& k : spec.profile) {
            if (k.key.empty()) {
                continue;
            }
            if (auto v = get(k.key, k.required)) {
                value += std::string(k.before) + *v;
            }
        }
        std::optional<std::string> start;
        std::optional<std::string> stop;
        if (auto n = t.get("start")) {
            start = time_text(r, *n, "fault 'start'");
            ok = ok && start.has_value();
        }
        if (auto n = t.get("stop")) {
            stop = time_text(r, *n, "fault 'stop'");
            ok = ok && stop.has_value();
        }
        if (!ok) {
            continue;
        }
        if (start || stop) {
            value += "@" + start.value_or("0");
            if (stop) {
                value += "-" + *stop;
            }
        }
        auto fault = parse_fault_flag(*kind, value);
        if (!fault) {
            // The flag parser names the flag; in a profile the table is what the user wrote.
            std::string message = fault.error().message();
            auto colon = message.find("': ");
            if (message.rfind("--", 0) == 0 && colon != std::string::npos) {
                message = "a " + *kind_name + " fault: " + message.substr(colon + 3);
            }
            r.error(pos, message);
            continue;
        }
        fault->origin = path + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
        profile.faults.push_back(std::move(*fault));
    }
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    if (auto st = validate_faults(profile.faults); !st) {
        return fail(Errc::invalid_definition, st.error().message());
    }
    return profile;
}

Result<Profile> load_profile(const std::string& path) {
    auto text = os::read_whole_file(path);
    if (!text) {
        if (text.error().code() == Errc::not_found) {
            return fail(Errc::not_found, "reading fault profile '" + path + "': no such file");
        }
        return fail(text.error());
    }
    return parse_profile(*text, path);
}

}  // namespace shipshape::faults
