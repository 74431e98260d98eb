// The values of a project's secrets: `secrets` in shipshape.toml names environment variables,
// and whatever they hold when a command starts is what redaction hides (core/redact.hpp).
// Reads the process environment; nothing else.
#pragma once

#include <string>
#include <vector>

#include "app/project.hpp"

namespace shipshape::app {

// The values of the variables `project` names as secrets (unset or empty ones are skipped),
// each followed by the form it takes inside a JSON string when that differs (`"` and `\`
// escaped, control characters as \n, \t or \u00XX), so that JSON text received from elsewhere
// (a remote host's --json answer) can be redacted as text.
std::vector<std::string> secret_values(const Project& project);

// The names of the secrets whose value is shorter than Redactor::k_min_safe_length: each
// occurrence of so short a value is hidden too, which masks far more than the secret.
std::vector<std::string> short_secrets(const Project& project);

// `text` as it appears between the quotes of a JSON string (what nlohmann::json::dump writes).
std::string json_string_body(const std::string& text);

}  // namespace shipshape::app
