#include "core/size.hpp"
#include "core/suggest.hpp"
#include "core/text.hpp"
#include "core/toml_reader.hpp"

namespace shipshape {

SourcePos toml_pos(const toml::source_region& r) {
    return SourcePos{static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}

namespace {

std::string_view type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        default:
            return "a date or time";
    }
}

}  // namespace

std::optional<toml::table> TomlReader::parse(std::string_view text) {
    try {
        return toml::parse(text, m_path);
    } catch (const toml::parse_error& e) {
        error(toml_pos(e.source()), "invalid TOML: " + std::string(e.description()));
        return std::nullopt;
    }
}

void TomlReader::error(SourcePos pos, std::string message) {
    m_diags.add(m_path, pos, std::move(message));
}

void TomlReader::wrong_type(std::string_view where, const toml::node& n,
                            std::string_view expected) {
    error(n, std::string(where) + " must be " + std::string(expected) + ", found " +
                 std::string(type_name(n)));
}

void TomlReader::check_keys(const toml::table& table, std::string_view where,
                            std::initializer_list<std::string_view> allowed) {
    for (auto&& [key, node] : table) {
        bool ok = false;
        for (auto a : allowed) {
            ok = ok || key.str() == a;
        }
        if (ok) {
            continue;
        }
        // A near miss gets the one key it most likely meant; anything else the whole list.
        std::string hint = did_you_mean(key.str(), std::vector<std::string_view>(allowed));
        if (hint.empty()) {
            std::string list;
            for (auto a : allowed) {
                list += (list.empty() ? "" : ", ") + std::string(a);
            }
            hint = " (expected one of: " + list + ")";
        }
        // Escaped: a quoted key may hold a newline, which must not forge a line of the list.
        error(toml_pos(key.source()),
              "unknown key '" + escape_control(key.str()) + "' in " + std::string(where) + hint);
    }
}

std::optional<std::string> TomlReader::string(const toml::node& n, std::string_view where) {
    if (auto s = n.as_string()) {
        return s->get();
    }
    wrong_type(where, n, "a string");
    return std::nullopt;
}

std::optional<bool> TomlReader::boolean(const toml::node& n, std::string_view where) {
    if (auto b = n.as_boolean()) {
        return b->get();
    }
    wrong_type(where, n, "true or false");
    return std::nullopt;
}

std::optional<int64_t> TomlReader::integer(const toml::node& n, std::string_view where, int64_t min,
                                           int64_t max) {
    auto i = n.as_integer();
    if (!i) {
        wrong_type(where, n, "an integer");
        return std::nullopt;
    }
    if (i->get() < min || i->get() > max) {
        error(n, std::string(where) + " must be between " + std::to_string(min) + " and " +
                     std::to_string(max) + ", found " + std::to_string(i->get()));
        return std::nullopt;
    }
    return i->get();
}

std::optional<std::vector<std::string>> TomlReader::strings(const toml::node& n,
                                                            std::string_view where) {
    auto arr = n.as_array();
    if (!arr) {
        wrong_type(where, n, "an array of strings");
        return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (auto&& item : *arr) {
        if (auto s = item.as_string()) {
            out.push_back(s->get());
        } else {
            wrong_type(std::string(where) + " items", item, "strings");
            ok = false;
        }
    }
    if (!ok) {
        return std::nullopt;
    }
    return out;
}

std::optional<uint64_t> TomlReader::size(const toml::node& n, std::string_view where) {
    if (auto i = n.as_integer()) {
        if (i->get() >= 0) {
            return static_cast<uint64_t>(i->get());
        }
    }
    auto s = n.as_string();
    if (!s) {
        wrong_type(where, n, "a size such as \"2 GiB\"");
        return std::nullopt;
    }
    auto bytes = parse_size(s->get());
    if (!bytes) {
        error(n, std::string(where) + ": " + bytes.error().message());
        return std::nullopt;
    }
    return *bytes;
}

const toml::table* TomlReader::table(const toml::node& n, std::string_view where) {
    if (auto t = n.as_table()) {
        return t;
    }
    wrong_type(where, n, "a table");
    return nullptr;
}

const toml::array* TomlReader::tables(const toml::node& n, std::string_view where) {
    auto arr = n.as_array();
    if (arr && arr->is_array_of_tables()) {
        return arr;
    }
    wrong_type(where, n, "an array of tables (write [[" + std::string(where) + "]])");
    return nullptr;
}

}  // namespace shipshape
