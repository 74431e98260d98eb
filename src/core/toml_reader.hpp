// Shared helpers for reading ops-repo TOML with positions: unknown keys, wrong types and bad
// values become Diagnostics ("file:line:col: message") and reading goes on, so a loader reports
// every problem at once. This header includes toml++: include it only from *_toml.cpp files.
#pragma once

#include <toml++/toml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostic.hpp"

namespace shipshape {

SourcePos toml_pos(const toml::source_region& r);

class TomlReader {
  public:
    TomlReader(std::string path, Diagnostics& diags) : m_path(std::move(path)), m_diags(diags) {}

    // Parses `text`; on a syntax error records it and returns nullopt.
    std::optional<toml::table> parse(std::string_view text);

    void error(SourcePos pos, std::string message);
    void error(const toml::node& n, std::string message) {
        error(toml_pos(n.source()), std::move(message));
    }

    // Reports keys of `table` not in `allowed`, listing the allowed ones.
    void check_keys(const toml::table& table, std::string_view where,
                    std::initializer_list<std::string_view> allowed);

    // Each returns nullopt (after recording why) when the value has the wrong type or range.
    std::optional<std::string> string(const toml::node& n, std::string_view where);
    std::optional<bool> boolean(const toml::node& n, std::string_view where);
    std::optional<int64_t> integer(const toml::node& n, std::string_view where, int64_t min,
                                   int64_t max);
    std::optional<std::vector<std::string>> strings(const toml::node& n, std::string_view where);
    std::optional<uint64_t> size(const toml::node& n, std::string_view where);
    const toml::table* table(const toml::node& n, std::string_view where);
    // An array of tables ([[name]]), or nullptr after recording why.
    const toml::array* tables(const toml::node& n, std::string_view where);

    // Records "<where> must be <expected>, found <type of n>".
    void wrong_type(std::string_view where, const toml::node& n, std::string_view expected);

    const std::string& path() const { return m_path; }

  private:
    std::string m_path;
    Diagnostics& m_diags;
};

}  // namespace shipshape
