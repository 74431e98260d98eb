#include "server/query.hpp"

#include <algorithm>

#include "core/text.hpp"

namespace shipshape::server {

namespace {

bool contains(const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
}

std::string quoted(std::string_view value) {
    constexpr size_t k_shown = 64;
    return "'" + escape_control(value.substr(0, k_shown)) + (value.size() > k_shown ? "...'" : "'");
}

}  // namespace

Result<Query> parse_name_query(const Query& query, const std::vector<std::string>& known,
                               const std::vector<std::string>& free_form) {
    Query out;
    for (const auto& [name, value] : query) {
        if (!contains(known, name)) {
            std::string list;
            for (const auto& k : known) {
                list += (list.empty() ? "" : ", ") + k;
            }
            return fail(Errc::invalid_argument,
                        "unknown query parameter " + quoted(name) + " (known: " + list + ")");
        }
        std::vector<std::string> names;
        for (const auto& p : out) {
            names.push_back(p.first);
        }
        if (contains(names, name)) {
            return fail(Errc::invalid_argument, "query parameter '" + name + "' given twice");
        }
        if (!contains(free_form, name) &&
            (value.empty() || value.size() > 200 ||
             !find_control_character(value, LineBreaks::rejected).empty())) {
            return fail(Errc::invalid_argument,
                        name +
                            " must be a name of 1 to 200 characters without control "
                            "characters, not " +
                            quoted(value));
        }
        out.emplace_back(name, value);
    }
    return out;
}

}  // namespace shipshape::server
