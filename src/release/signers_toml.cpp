// The toml++ adapter for signers.toml.
#include "core/toml_reader.hpp"
#include "release/signers.hpp"

namespace shipshape::release {

namespace {

bool valid_role(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

}  // namespace

Result<Signers> parse_signers_toml(std::string_view text, std::string_view path) {
    Diagnostics diags;
    TomlReader r(std::string(path), diags);
    auto doc = r.parse(text);
    Signers out;
    if (doc) {
        r.check_keys(*doc, "signers.toml", {"signers"});
        const toml::node* node = doc->get("signers");
        const toml::table* table = node ? r.table(*node, "[signers]") : nullptr;
        if (!node) {
            r.error(SourcePos{1, 1},
                    "signers.toml needs a [signers] table: role = [\"principal\", ...]");
        }
        if (table) {
            for (auto&& [key, value] : *table) {
                std::string role(key.str());
                if (!valid_role(role)) {
                    r.error(toml_pos(key.source()),
                            "role '" + role +
                                "': names may contain only letters, digits, '-', '_' and '.'");
                }
                auto people = r.strings(value, "[signers] " + role);
                if (!people) {
                    continue;
                }
                if (people->empty()) {
                    r.error(value, "[signers] " + role +
                                       " lists nobody: give its principals, as "
                                       "allowed_signers names them");
                }
                for (const auto& p : *people) {
                    if (p.empty() || p.find_first_of(" \t,\"") != std::string::npos) {
                        r.error(value, "[signers] " + role + ": '" + p +
                                           "' is not a principal (no blanks, commas or quotes)");
                    }
                }
                out.roles[role] = std::move(*people);
            }
        }
    }
    if (!diags.empty()) {
        return fail(diags.to_error());
    }
    return out;
}

}  // namespace shipshape::release
