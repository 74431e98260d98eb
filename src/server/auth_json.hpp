// The JSON of the authenticated routes (nlohmann/json stays in auth_json.cpp): the check-off
// request body, and the documents of GET /api/v1/me and of a recorded check-off.
#pragma once

#include <string>
#include <string_view>

#include "app/users.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

namespace shipshape::server {

// The most bytes a check-off note may have.
inline constexpr size_t k_max_note = 4096;

struct CheckOffBody {
    std::string note;
};

// Parses a check-off body: a JSON object whose only known field is "note" (a string of at most
// k_max_note bytes, valid UTF-8 without control characters but newline and tab). An empty body
// is an empty object. Errc::invalid_argument with the reason: malformed JSON, not an object, an
// unknown field, a note that is not a string, too long, or holds a control character.
[[nodiscard]] Result<CheckOffBody> parse_check_off_body(std::string_view body);

std::string json_me(const app::Identity& who);
std::string json_check_off_done(const store::CheckOff& c);

}  // namespace shipshape::server
