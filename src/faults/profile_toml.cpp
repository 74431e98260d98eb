// The toml++ adapter for fault profiles (faults/*.toml). Each [[fault]] table is turned into
// the text of the matching command-line flag and parsed by parse_fault_flag, so a profile and
// the flags can never disagree about what a value means; errors keep the table's position.
#include <fstream>
#include <sstream>

#include "core/toml_reader.hpp"
#include "faults/fault.hpp"

namespace shipshape::faults {

namespace {

struct KindKeys {
    FaultKind kind;
    std::initializer_list<std::string_view> keys;  // besides kind/start/stop
};

const KindKeys k_keys[] = {
    {FaultKind::loss, {"percent", "proto"}},
    {FaultKind::block_port, {"port", "proto", "mode"}},
    {FaultKind::latency, {"ms", "jitter_ms"}},
    {FaultKind::bandwidth, {"rate"}},
    {FaultKind::reset_after, {"bytes", "port"}},
    {FaultKind::dns_fail, {}},
    {FaultKind::disk_full, {"path", "size"}},
    {FaultKind::io_error, {"path", "percent", "ops"}},
    {FaultKind::slow_io, {"path", "ms"}},
    {FaultKind::lose_unsynced, {"path"}},
    {FaultKind::memory, {"size"}},
    {FaultKind::alloc_limit, {"size"}},
    {FaultKind::clock_skew, {"seconds"}},
};

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
            r.error(pos,
                    "[[fault]] needs 'kind' (loss, block-port, latency, bandwidth, "
                    "reset-after, dns-fail, disk-full, io-error, slow-io, lose-unsynced, "
                    "memory, alloc-limit, clock-skew)");
            continue;
        }
        auto kind_name = r.string(*kind_node, "fault 'kind'");
        if (!kind_name) {
            continue;
        }
        auto kind = parse_fault_kind(*kind_name);
        if (!kind) {
            r.error(*kind_node, "unknown fault kind '" + *kind_name +
                                    "': expected loss, block-port, latency, bandwidth, "
                                    "reset-after, dns-fail, disk-full, io-error, slow-io, "
                                    "lose-unsynced, memory, alloc-limit or clock-skew");
            continue;
        }
        std::initializer_list<std::string_view> keys;
        for (const auto& k : k_keys) {
            if (k.kind == *kind) {
                keys = k.keys;
            }
        }
        std::vector<std::string_view> allowed = {"kind", "start", "stop"};
        allowed.insert(allowed.end(), keys.begin(), keys.end());
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
        std::string value;
        switch (*kind) {
            case FaultKind::loss:
                value = get("percent", true).value_or("");
                if (auto p = get("proto", false)) {
                    value += "/" + *p;
                }
                break;
            case FaultKind::block_port:
                value = get("port", true).value_or("");
                if (auto p = get("proto", false)) {
                    value += "/" + *p;
                }
                if (auto m = get("mode", false)) {
                    value += ":" + *m;
                }
                break;
            case FaultKind::latency:
                value = get("ms", true).value_or("");
                if (auto j = get("jitter_ms", false)) {
                    value += "+-" + *j;
                }
                break;
            case FaultKind::bandwidth:
                value = get("rate", true).value_or("");
                break;
            case FaultKind::reset_after:
                value = get("bytes", true).value_or("") + ":" + get("port", true).value_or("");
                break;
            case FaultKind::dns_fail:
                break;
            case FaultKind::disk_full:
                value = get("path", true).value_or("") + ":" + get("size", true).value_or("");
                break;
            case FaultKind::io_error:
                value = get("path", true).value_or("") + ":" + get("percent", true).value_or("");
                if (auto o = get("ops", false)) {
                    value += ":" + *o;
                }
                break;
            case FaultKind::slow_io:
                value = get("path", true).value_or("") + ":" + get("ms", true).value_or("");
                break;
            case FaultKind::lose_unsynced:
                value = get("path", true).value_or("");
                break;
            case FaultKind::memory:
            case FaultKind::alloc_limit:
                value = get("size", true).value_or("");
                break;
            case FaultKind::clock_skew:
                value = get("seconds", true).value_or("");
                break;
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
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(Errc::not_found, "reading fault profile '" + path + "': no such file");
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_profile(ss.str(), path);
}

}  // namespace shipshape::faults
